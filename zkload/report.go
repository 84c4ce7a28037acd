package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zkload/zkload/reports"
)

// runReport is `zkload report [--out DIR] [--label L ...] RUNDIR...`.
func runReport(fs *flagSet, dirs []string) error {
	stdout, stderr := fs.stdout, fs.stderr
	var labels []string
	for _, l := range strings.FieldsFunc(fs.text("label"), func(r rune) bool { return r == ',' || r == '\n' }) {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	out := fs.text("out")
	if len(dirs) == 0 {
		return fs.fail("want at least one run directory (see zkload report --help)")
	}
	if len(labels) > 0 && len(labels) != len(dirs) {
		return fs.fail("--label given %d times for %d run directories: give one per directory", len(labels), len(dirs))
	}
	if out == "" {
		out = "report"
		if len(dirs) == 1 {
			out = filepath.Join(dirs[0], "report")
		}
	}
	rep, err := reports.Generate(reports.Options{Dirs: dirs, Labels: labels, Out: out})
	var bad *reports.InputError
	if errors.As(err, &bad) {
		return fs.fail("%v", bad) // nothing to report: bad input, nothing written
	}
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stderr, "zkload report: warning: %s\n", p)
	}
	for _, rr := range rep.Runs {
		for _, t := range rr.Run.Tests {
			for _, p := range t.Problems {
				fmt.Fprintf(stderr, "zkload report: %s: %s: %s\n", rr.Run.Label, t.Label, p)
			}
		}
		for _, p := range rr.Run.Problems {
			fmt.Fprintf(stderr, "zkload report: %s: %s\n", rr.Run.Label, p)
		}
	}
	fmt.Fprintf(stdout, "report: %s %s\n", filepath.Join(out, "report.html"), filepath.Join(out, "report.md"))
	return nil
}
