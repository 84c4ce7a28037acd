package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/zkload/zkload/setting"

	"github.com/zkload/zkload/reports"
)

// runReport is `zkload report [--out DIR] [--label L ...] RUNDIR...`.
func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", "[--out DIR] [--label LABEL ...] RUNDIR...",
		"Turns one or more run directories (Locust's CSVs, zkload's extended statistics and\n"+
			"distributions of every worker, ensemble metrics, run.json) into DIR/report.html (one\n"+
			"self-contained file) and DIR/report.md with its figures in DIR/figures/. Several run\n"+
			"directories give a comparison too. See doc/report.md.", stdout, stderr)
	fs.add(groupCommon,
		&setting.Spec{Flag: "out", Arg: "DIR", Help: "output directory (default: RUNDIR/report for one run, report for several)"},
		&setting.Spec{Flag: "label", Arg: "LABEL", Help: "a run directory's label in the comparison, once per RUNDIR in order (or comma-separated)"})
	fs.repeatable("label")
	dirs, err := fs.parse(args)
	if err != nil {
		return err
	}
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
	fmt.Fprintf(stdout, "report: %s %s\n", filepath.Join(out, "report.html"), filepath.Join(out, "report.md"))
	return nil
}
