package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/zkload/zkload/reports"
)

// exitCapacityDrop is `zkload report --fail-on-capacity-drop`'s exit code when a
// test's capacity dropped by more than the share allowed: distinct from 1 (the report
// could not be written) and 2 (bad input), so that a CI step tells a regression, whose
// report was written and is worth keeping, from a broken step; and from the
// watchdog's 3, which is a run's.
const exitCapacityDrop = 4

// runReport is `zkload report [--out DIR] [--label L ...] [--fail-on-capacity-drop
// SHARE] RUNDIR...`.
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
	gate, share := fs.set("fail-on-capacity-drop"), 0.0
	if gate {
		var err error
		if share, err = reports.ParseShare(fs.text("fail-on-capacity-drop")); err != nil {
			return fs.fail("--fail-on-capacity-drop %v", err)
		}
		if len(dirs) < 2 {
			return fs.fail("--fail-on-capacity-drop compares runs: give the baseline's run directory first and the new one last (got 1 directory)")
		}
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
	for _, line := range rep.ControlLines() {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "report: %s %s\n", filepath.Join(out, "report.html"), filepath.Join(out, "report.md"))
	if !gate {
		return nil
	}
	results, warnings := rep.CapacityGate(share)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "zkload report: warning: %s\n", w)
	}
	var dropped []string
	for _, r := range results {
		if r.Failed {
			dropped = append(dropped, r.Text)
			continue
		}
		fmt.Fprintf(stdout, "capacity gate: %s\n", r.Text)
	}
	if len(dropped) > 0 {
		msg := strings.Join(dropped, "; ")
		fmt.Fprintf(stderr, "zkload report: %s (exit code %d)\n", msg, exitCapacityDrop)
		return &codedError{code: exitCapacityDrop, err: errors.New(msg)}
	}
	return nil
}
