package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/zkload/zkload/reports"
)

// runReport is `zkload report [--out DIR] [--label L ...] RUNDIR...`.
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "[--out DIR] [--label LABEL ...] RUNDIR...",
		"Turns one or more run directories (Locust's CSVs, zkload's extended statistics and\n"+
			"distributions of every worker, ensemble metrics, run.json) into DIR/report.html (one\n"+
			"self-contained file) and DIR/report.md with its figures in DIR/figures/. Several run\n"+
			"directories give a comparison too. See doc/report.md.", stdout, stderr)
	out := fs.String("out", "", "output directory (default: RUNDIR/report for one run, report for several)")
	var labels labelList
	fs.Var(&labels, "label", "a run directory's label in the comparison, once per RUNDIR in order (or comma-separated)")
	dirs, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fs.fail("want at least one run directory (see zkload report --help)")
	}
	if len(labels) > 0 && len(labels) != len(dirs) {
		return fs.fail("--label given %d times for %d run directories: give one per directory", len(labels), len(dirs))
	}
	if *out == "" {
		*out = "report"
		if len(dirs) == 1 {
			*out = filepath.Join(dirs[0], "report")
		}
	}
	rep, err := reports.Generate(reports.Options{Dirs: dirs, Labels: labels, Out: *out})
	if err != nil {
		return err
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
	fmt.Fprintf(stdout, "report: %s %s\n", filepath.Join(*out, "report.html"), filepath.Join(*out, "report.md"))
	return nil
}

// labelList is a repeatable, comma-splitting string flag.
type labelList []string

func (l *labelList) String() string { return strings.Join(*l, ",") }

func (l *labelList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
