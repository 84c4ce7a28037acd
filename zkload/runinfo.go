package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
)

// redactArgs returns the command line with secret settings' values replaced.
func redactArgs(args []string) []string {
	secret := secretSettings()
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		name := strings.TrimLeft(a, "-")
		if name == a || a == "--" {
			out = append(out, a)
			continue
		}
		n, _, hasVal := strings.Cut(name, "=")
		if !secret[n] {
			out = append(out, a)
			continue
		}
		if hasVal {
			out = append(out, a[:len(a)-len(name)]+n+"=REDACTED")
			continue
		}
		out = append(out, a)
		if i+1 < len(args) {
			out = append(out, "REDACTED")
			i++
		}
	}
	return out
}

// generateReport runs `zkload report DIR` when zkload has that command; its failure is
// a warning only, the run's results are on disk already.
func generateReport(dir string, stdout, stderr io.Writer) {
	for _, c := range commands() {
		if c.name != "report" {
			continue
		}
		fmt.Fprintf(stderr, "zkload: generating the report of %s\n", dir)
		if err := c.execute([]string{dir}, stdout, stderr); err != nil && !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "zkload: warning: the report of %s failed: %v (the run's files are kept; retry with: zkload report %s)\n", dir, err, dir)
		} else if err != nil {
			fmt.Fprintf(stderr, "zkload: warning: the report of %s failed (the run's files are kept; retry with: zkload report %s)\n", dir, dir)
		}
		return
	}
	panic("zkload: no report command") // a programming error: commands() has it
}

// flagSettings returns the settings of run.json: the flags given (or defaulted by
// --report-dir) and the workloads' settings from the environment, named as the flags
// with "_" for "-", secrets left out.
func flagSettings(fs *flagSet) map[string]string {
	secret := secretSettings()
	s := map[string]string{}
	key := func(flag string) string { return strings.ReplaceAll(flag, "-", "_") }
	for _, w := range workloads() {
		for _, st := range w.Settings() {
			switch {
			case st.Secret || st.Env == "":
			case st.Open:
				for _, kv := range os.Environ() {
					if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, st.Env) && v != "" {
						s[key(st.Flag)+strings.ToLower(strings.TrimPrefix(k, st.Env))] = v
					}
				}
			default:
				if v := os.Getenv(st.Env); v != "" {
					s[key(st.Flag)] = v
				}
			}
		}
	}
	for name, v := range fs.given {
		if !secret[name] && name != "force" {
			s[key(name)] = v
		}
	}
	for name := range fs.defaulted {
		if v := fs.get(name); !secret[name] && v.Source == setting.FromDefault {
			s[key(name)] = v.Text
		}
	}
	return s
}

func runRuninfo(fs *flagSet, cmd []string) error {
	now := rfc3339(time.Now())
	ri := &rundir.RunInfo{Command: redactArgs(cmd), Start: now, End: now, Ensemble: fs.text("ensemble"),
		Settings: flagSettings(newFlagSet("runinfo", "", "", io.Discard, io.Discard)),
		Tests:    strings.FieldsFunc(fs.text("tests"), func(r rune) bool { return r == ' ' || r == ',' })}
	for _, t := range []struct {
		name string
		dst  *string
	}{{"start", &ri.Start}, {"end", &ri.End}} {
		if v := fs.get(t.name); v.Text != "" {
			if _, err := time.Parse(time.RFC3339, v.Text); err != nil {
				return fs.check(v.Bad())
			}
			*t.dst = v.Text
		}
	}
	if fs.set("setting") {
		for _, kv := range strings.Split(fs.text("setting"), "\n") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fs.fail("--setting %q: want NAME=VALUE", kv)
			}
			ri.Settings[k] = v
		}
	}
	ri.Versions = versions(ri.Ensemble, true)
	if ri.Command == nil {
		ri.Command = []string{}
	}
	if ri.Tests == nil {
		ri.Tests = []string{}
	}
	out := fs.text("out")
	if out == "-" {
		b, _ := json.MarshalIndent(ri, "", "  ")
		_, err := fmt.Fprintf(fs.stdout, "%s\n", b)
		return err
	}
	if err := ri.Write(out); err != nil {
		return fs.fail("--out %q: %v", out, err)
	}
	return nil
}
