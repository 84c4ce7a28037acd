package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/zkload/zkload/fourlw"

	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/stats/ensemble"
	"github.com/zkload/zkload/tasks/zookeeper"
)

// reportDirFlags are --report-dir and --force (doc/run.md, "One directory per run"):
// every output of a run in one directory, with its run.json, then the report.
type reportDirFlags struct {
	dir   string
	force bool
	// how prepare found the directory, for undo
	existed, wasEmpty bool
}

func (r *reportDirFlags) register(fs *flagSet, what string) {
	fs.StringVar(&r.dir, "report-dir", "", "write "+what+" into this directory (created; see doc/run.md)")
	fs.BoolVar(&r.force, "force", false, "with --report-dir: use a directory that is not empty, overwriting what it holds")
}

// prepare creates the directory. With mine nil it refuses a directory holding anything
// (the run's rule); otherwise it refuses one holding any of the names in mine, or a
// run.json (a worker's rule: workers share the directory). --force allows both.
func (r *reportDirFlags) prepare(fs *flagSet, mine []string) error {
	if entries, err := os.ReadDir(r.dir); err == nil {
		r.existed, r.wasEmpty = true, len(entries) == 0
	} else if errors.Is(err, os.ErrNotExist) {
		r.wasEmpty = true
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fs.fail("--report-dir %q: %v", r.dir, err)
	}
	if r.force {
		return nil
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fs.fail("--report-dir %q: %v", r.dir, err)
	}
	if mine == nil {
		if len(entries) > 0 {
			return fs.fail("--report-dir %q is not empty (%d entries, e.g. %s); give an empty or new directory, or --force to overwrite", r.dir, len(entries), entries[0].Name())
		}
		return nil
	}
	for _, e := range entries {
		for _, n := range append(mine, "run.json") {
			if e.Name() == n {
				return fs.fail("--report-dir %q already holds %s; give another directory, or --force to overwrite", r.dir, n)
			}
		}
	}
	return nil
}

// undo removes what a command that did not start left in a directory that was empty or
// new (after bad flags: a corrected command may then use it without --force).
func (r *reportDirFlags) undo() {
	if !r.wasEmpty {
		return
	}
	if !r.existed {
		os.RemoveAll(r.dir)
		return
	}
	entries, _ := os.ReadDir(r.dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(r.dir, e.Name()))
	}
}

// path returns a file's path in the directory.
func (r *reportDirFlags) path(name string) string { return filepath.Join(r.dir, name) }

// defaultFlag sets a flag to value unless the flag or its environment variable (env,
// may be empty) was given.
func defaultFlag(fs *flagSet, name, env, value string) {
	if fs.set(name) || (env != "" && os.Getenv(env) != "") {
		return
	}
	if err := fs.Set(name, value); err != nil {
		panic(fmt.Sprintf("default --%s %q: %v", name, value, err))
	}
}

// openLog creates the directory's copy of the command's output.
func (r *reportDirFlags) openLog(fs *flagSet, name string) (*os.File, error) {
	f, err := os.Create(r.path(name))
	if err != nil {
		return nil, fs.fail("--report-dir %q: %v", r.dir, err)
	}
	return f, nil
}

// syncWriter serializes writes: the log copy gets both stdout and stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// runInfo is run.json, whose schema belongs to package rundir.
type runInfo = rundir.RunInfo

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// versions returns zkload's, Go's, Locust's (when probeLocust) and ZooKeeper's versions
// (from srvr on the ensemble's members, when reachable).
func versions(connect string, probeLocust bool) map[string]string {
	v := map[string]string{"zkload": zkloadVersion(), "go": runtime.Version(), "locust": "", "zookeeper": ""}
	locust := make(chan string, 1)
	go func() {
		if probeLocust {
			locust <- locustVersion()
		} else {
			locust <- ""
		}
	}()
	v["zookeeper"] = zookeeperVersion(connect)
	v["locust"] = <-locust
	return v
}

// version is set by the Makefile's build: -ldflags "-X main.version=$(git describe ...)".
var version string

// zkloadVersion is the version the build was stamped with (git describe), else the
// module version, else the VCS revision the binary was built
// from (+dirty for uncommitted changes), else "dev".
func zkloadVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return rev
}

// locustVersion is `locust --version`'s output ("locust 2.x.y"; Debian's 2.12.1 prints
// an empty version), or "" without Locust.
func locustVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "locust", "--version").Output()
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(out))
	if s == "locust" {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(s, "locust "))
}

var zkVersionRx = regexp.MustCompile(`(?m)^Zookeeper version: ([^,\s]+)`)

// zookeeperVersion asks the ensemble's members for srvr (whitelisted by default) and
// returns the first version one gives, or "".
func zookeeperVersion(connect string) string {
	connect = strings.TrimSpace(connect)
	if connect == "" {
		return ""
	}
	members, err := ensemble.Members(connect, nil, nil)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, m := range members {
		b, err := fourlw.Ask(ctx, m.HostPort, "srvr")
		if err != nil {
			continue
		}
		if m := zkVersionRx.FindStringSubmatch(b); m != nil {
			return m[1]
		}
	}
	return ""
}

// secretFlags are the settings never written to run.json nor its command line.
func secretFlags() map[string]bool {
	s := map[string]bool{}
	for _, st := range (zookeeper.Workload{}).Settings() {
		if st.Secret {
			s[st.Flag] = true
			s[st.Env] = true
		}
	}
	return s
}

// redactArgs returns the command line with secret settings' values replaced.
func redactArgs(args []string) []string {
	secret := secretFlags()
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

// shortFlags are the long names of the one-letter flags.
var shortFlags = map[string]string{"u": "users", "r": "spawn-rate", "t": "run-time", "H": "host", "L": "loglevel"}

// flagSettings returns the flags given (or defaulted by --report-dir) and the
// ZooKeeper settings of the environment, named as the flags with "_" for "-", secrets
// left out.
func flagSettings(fs *flagSet) map[string]string {
	secret := secretFlags()
	s := map[string]string{}
	for _, st := range (zookeeper.Workload{}).Settings() {
		if v := os.Getenv(st.Env); v != "" && !st.Secret {
			s[strings.ReplaceAll(st.Flag, "-", "_")] = v
		}
	}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ZK_LOCUST_BENCH_") && v != "" {
			s["bench_"+strings.ToLower(strings.TrimPrefix(k, "ZK_LOCUST_BENCH_"))] = v
		}
	}
	fs.Visit(func(f *flag.Flag) {
		name := f.Name
		if long, ok := shortFlags[name]; ok {
			name = long
		}
		if secret[name] || name == "force" {
			return
		}
		s[strings.ReplaceAll(name, "-", "_")] = f.Value.String()
	})
	return s
}

// generateReport runs `zkload report DIR` when zkload has that command; its failure is
// a warning only, the run's results are on disk already.
func generateReport(dir string, stdout, stderr io.Writer) {
	for _, c := range commands() {
		if c.name != "report" {
			continue
		}
		fmt.Fprintf(stderr, "zkload: generating the report of %s\n", dir)
		if err := c.run([]string{dir}, stdout, stderr); err != nil && !errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "zkload: warning: the report of %s failed: %v (the run's files are kept; retry with: zkload report %s)\n", dir, err, dir)
		} else if err != nil {
			fmt.Fprintf(stderr, "zkload: warning: the report of %s failed (the run's files are kept; retry with: zkload report %s)\n", dir, dir)
		}
		return
	}
	// HOOK(report): no `zkload report` in this build; the directory is ready for it.
	fmt.Fprintf(stderr, "zkload: no report generator in this build; the run's files are in %s\n", dir)
}

// fileTag makes a node id usable in file names: only letters, digits, "-" and "_".
func fileTag(nodeID string) string {
	host, id, _ := strings.Cut(nodeID, "_")
	if len(id) > 8 {
		id = id[:8]
	}
	tag := regexp.MustCompile(`[^A-Za-z0-9-]+`).ReplaceAllString(host, "-")
	if id != "" {
		tag += "_" + id
	}
	return tag
}

// settingList is a repeatable NAME=VALUE flag.
type settingList map[string]string

func (l settingList) String() string { return "" }

func (l settingList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want NAME=VALUE", s)
	}
	l[k] = v
	return nil
}

// runRuninfo writes a run.json for runs zkload does not make itself (scripts/suite.sh
// with REPORT_DIR).
func runRuninfo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("runinfo", "[flags] [-- command ...]",
		`Writes run.json (see doc/run.md): the command after --, start and end times, settings,
versions (zkload, Go, Locust's "locust --version", ZooKeeper's from srvr on the
ensemble), the ensemble and the tests. scripts/suite.sh uses it with REPORT_DIR.
The ZooKeeper settings of the environment (ZK_LOCUST_*, secrets left out) are added
to the settings.`, stdout, stderr)
	var (
		out      = fs.String("out", "-", "file to write, - for stdout")
		start    = fs.String("start", "", "start time, RFC 3339 (default: now)")
		end      = fs.String("end", "", "end time, RFC 3339 (default: now)")
		ens      = fs.String("ensemble", "", "the ensemble's connect string")
		tests    = fs.String("tests", "", "the tests, separated by spaces or commas")
		settings = settingList{}
	)
	fs.Var(settings, "setting", "a setting NAME=VALUE (repeatable)")
	cmd, err := fs.parse(args)
	if err != nil {
		return err
	}
	now := rfc3339(time.Now())
	for _, t := range []struct{ name, v string }{{"--start", *start}, {"--end", *end}} {
		if _, err := time.Parse(time.RFC3339, t.v); t.v != "" && err != nil {
			return fs.fail("%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", t.name, t.v)
		}
	}
	ri := &runInfo{Command: redactArgs(cmd), Start: *start, End: *end, Ensemble: *ens,
		Settings: flagSettings(newFlagSet("runinfo", "", "", io.Discard, io.Discard)),
		Versions: versions(*ens, true), Tests: strings.FieldsFunc(*tests, func(r rune) bool { return r == ' ' || r == ',' })}
	if ri.Command == nil {
		ri.Command = []string{}
	}
	if ri.Tests == nil {
		ri.Tests = []string{}
	}
	if ri.Start == "" {
		ri.Start = now
	}
	if ri.End == "" {
		ri.End = now
	}
	for k, v := range settings {
		ri.Settings[k] = v
	}
	if *out == "-" {
		b, _ := json.MarshalIndent(ri, "", "  ")
		_, err := fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if err := ri.Write(*out); err != nil {
		return fs.fail("--out %q: %v", *out, err)
	}
	return nil
}
