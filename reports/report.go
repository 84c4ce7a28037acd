// Package reports turns run directories (Locust's CSVs, zkload's extended statistics and
// distributions from every worker, ensemble metrics, run.json) into a report:
// report.html (one self-contained file, figures inline) and report.md (figures as files
// beside it). doc/report.md describes what it shows.
//
// The package is split by job: package rundir names and finds a run directory's files,
// load*.go read them (tolerating missing and truncated files, which become Problems),
// analysis.go derives the time series and tables, figures.go draws them with
// gonum.org/v1/plot (report.md's static figures), chartjson.go turns them into the
// data of report.html's interactive charts (web/zkcharts.js on uPlot, embedded by
// web.go), overview.go makes the overview, and render.go writes the HTML and Markdown.
package reports

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/zkload/zkload/tasks/openloop"
)

// Options are what `zkload report` is given.
type Options struct {
	Dirs   []string
	Labels []string // one per dir, or none
	Out    string   // output directory
	// noLib makes report.html's static fallback (as without the chart library).
	noLib bool
}

// Report is everything rendered: the front page, the sections, the comparison.
type Report struct {
	Title    string
	Runs     []*RunReport
	Compare  *Comparison
	Verdicts []string
	// Problems are the run directories left out, with nothing to report ("Left out").
	Problems []string
	Made     time.Time
	// lib is the chart library for interactive charts; nil: static figures.
	lib *webLib
}

// RunReport is one run's part of the report.
type RunReport struct {
	Run      *Run
	Analyses []*Analysis
	Summary  []SummaryRow
	Values   []SummaryRow // the value series (schedule lag), not requests
	Sections []Section
	// Parts are the sections by test, in order (Sections is all of them).
	Parts    []TestPart
	Prefix   string // "r1"... with several runs: figure and anchor names
	Verdicts []string
	Start    time.Time
	End      time.Time
}

// TestPart is one test's sections.
type TestPart struct {
	Analysis *Analysis
	Sections []Section
}

// InputError is a report that cannot be made from its inputs: no run directory holds
// anything to report (missing, unreadable, empty or garbage). `zkload report` exits 2
// for it (bad input) and writes nothing.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Generate loads the run directories and writes report.html, report.md and the
// figures (figures/*.svg) into o.Out. What is missing or damaged in a run is said in
// the report (its Problems). A directory with nothing to report (missing, unreadable,
// no test files, or none with a usable row) is left out of the report, with a line
// in rep.Problems, when another directory is usable; when none is, Generate writes
// nothing and returns an *InputError naming each directory and what it lacks. Other
// errors are the output's.
func Generate(o Options) (*Report, error) {
	if len(o.Dirs) == 0 {
		return nil, &InputError{"no run directory"}
	}
	if len(o.Labels) > 0 && len(o.Labels) != len(o.Dirs) {
		return nil, &InputError{fmt.Sprintf("%d labels for %d run directories: give one --label per directory", len(o.Labels), len(o.Dirs))}
	}
	rep := &Report{Title: "zkload report", Made: time.Now().UTC(), lib: embeddedLib}
	if o.noLib {
		rep.lib = nil
	}
	var runs []*Run
	var bad []string
	for i, d := range o.Dirs {
		label := ""
		if len(o.Labels) > 0 {
			label = o.Labels[i]
		}
		run, err := Load(d, label)
		why := ""
		switch {
		case err != nil:
			why = dirError(err) + " (want a run directory of zkload run --report-dir or scripts/suite.sh)"
		case !run.Usable():
			why = run.unusable()
		default:
			runs = append(runs, run)
			continue
		}
		bad = append(bad, d+": "+why)
	}
	if len(runs) == 0 {
		if len(bad) == 1 {
			return nil, &InputError{bad[0]}
		}
		return nil, &InputError{fmt.Sprintf("none of the %d run directories holds anything to report: %s", len(bad), strings.Join(bad, "; "))}
	}
	for _, b := range bad {
		rep.Problems = append(rep.Problems, "left out: "+b)
	}
	for i, run := range runs {
		prefix := ""
		if len(runs) > 1 {
			prefix = fmt.Sprintf("r%d", i+1)
		}
		rep.Runs = append(rep.Runs, buildRun(run, prefix))
	}
	if len(rep.Runs) > 1 {
		rep.Compare = compare(rep.Runs)
		rep.Title = "zkload comparison report"
	}
	if len(rep.Problems) > 0 {
		rep.Verdicts = append(rep.Verdicts, fmt.Sprintf("%d of %d run directories left out, with nothing to report: see \"Left out\".", len(rep.Problems), len(o.Dirs)))
	}
	for _, rr := range rep.Runs {
		for _, v := range rr.Verdicts {
			if len(rep.Runs) > 1 {
				v = rr.Run.Label + ": " + v
			}
			rep.Verdicts = append(rep.Verdicts, v)
		}
	}
	if err := rep.renderFigures(); err != nil {
		return nil, err
	}
	if err := rep.write(o.Out); err != nil {
		return nil, err
	}
	return rep, nil
}

// dirError is why a run directory could not be read, without its path (the caller
// names it): "no such file or directory", "not a directory", "permission denied".
func dirError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, syscall.ENOTDIR) {
			return "not a directory"
		}
		return pe.Err.Error()
	}
	return err.Error()
}

func buildRun(run *Run, prefix string) *RunReport {
	rr := &RunReport{Run: run, Prefix: prefix}
	for _, t := range run.Tests {
		a := analyze(t)
		rr.Analyses = append(rr.Analyses, a)
		rr.Summary = append(rr.Summary, a.Summary...)
		rr.Values = append(rr.Values, a.Values...)
		if !a.Start.IsZero() && (rr.Start.IsZero() || a.Start.Before(rr.Start)) {
			rr.Start = a.Start
		}
		if a.End.After(rr.End) {
			rr.End = a.End
		}
		var secs []Section
		if sec, ok := a.controlSection(prefix); ok {
			secs = append(secs, sec)
		}
		secs = append(secs, a.opSections(prefix)...)
		secs = append(secs, a.ensembleSection(prefix))
		if faults := a.faultMarks(); len(faults) > 0 {
			for _, sec := range secs {
				for _, f := range sec.Figures {
					if !f.Percentile && !f.Relative && !f.Level {
						f.Faults = faults
					}
				}
			}
			secs = append(secs, Section{Title: faultsTitle(a), Notes: a.failoverNotes()})
		}
		rr.Sections = append(rr.Sections, secs...)
		rr.Parts = append(rr.Parts, TestPart{Analysis: a, Sections: secs})
	}
	if run.Info != nil {
		if s, err := time.Parse(time.RFC3339, run.Info.Start); err == nil {
			rr.Start = s
		}
		if e, err := time.Parse(time.RFC3339, run.Info.End); err == nil {
			rr.End = e
		}
	}
	rr.Verdicts = verdicts(rr)
	return rr
}

// verdicts are the front page's one-line conclusions.
func verdicts(rr *RunReport) []string {
	var out []string
	for _, a := range rr.Analyses {
		if r := a.Test.ControlResult; r != nil {
			out = append(out, controlLine(a.Test.Label, r))
		}
	}
	var worst *SummaryRow
	for i := range rr.Summary {
		r := &rr.Summary[i]
		if r.Key.IsTotal() || r.Requests == 0 {
			continue
		}
		if worst == nil || tail(r) > tail(worst) {
			worst = r
		}
	}
	if worst != nil {
		out = append(out, fmt.Sprintf("Worst tail: %s %s (test %s), p99.9 %s ms, max %s ms.",
			worst.Key.Name, worst.Key.Method, worst.Test, fmtMS(worst.P999), fmtMS(worst.Max)))
	}
	for _, r := range rr.Summary {
		if r.Key.IsTotal() || r.Failures == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("Failures: %s %s (test %s): %d of %d (%.2f %%).",
			r.Key.Name, r.Key.Method, r.Test, r.Failures, r.Requests, 100*float64(r.Failures)/float64(r.Requests)))
	}
	for _, a := range rr.Analyses {
		for _, r := range a.Values {
			if r.Key.Method != openloop.ScheduleLag || r.Requests == 0 {
				continue
			}
			of := ""
			if n := a.requests(r.Key.Name); n > 0 {
				of = fmt.Sprintf(" (%.1f %% of %d)", 100*float64(r.Requests)/float64(n), n)
			}
			out = append(out, fmt.Sprintf("Open loop behind its plan: %s (test %s): %d starts late%s, up to %s ms.",
				r.Key.Name, r.Test, r.Requests, of, fmtMS(r.Max)))
		}
	}
	stopped := false
	for _, a := range rr.Analyses {
		for _, m := range a.Members {
			if len(m.Errors) > 0 {
				stopped = true
				out = append(out, fmt.Sprintf("Member %s stopped serving during %s: %d poll(s) failed, first at %s (%s).",
					m.HostPort, a.Test.Label, len(m.Errors), m.Errors[0].T.Format("15:04:05"), clip(m.Errors[0].State, 80)))
			}
		}
		if n := len(a.LeaderMoves); n > 0 {
			out = append(out, fmt.Sprintf("The leader moved %d time(s) during %s (marked on every time axis).", n, a.Test.Label))
		}
	}
	hasMetrics := false
	for _, a := range rr.Analyses {
		hasMetrics = hasMetrics || len(a.Members) > 0
	}
	if hasMetrics && !stopped {
		out = append(out, "Every ensemble member answered every poll.")
	}
	var missing []string
	for _, t := range rr.Run.Tests {
		if len(t.Problems) > 0 {
			missing = append(missing, t.Label)
		}
	}
	if len(missing) > 0 || len(rr.Run.Problems) > 0 {
		out = append(out, fmt.Sprintf("Some inputs are missing or damaged (tests %v): see \"Problems\".", missing))
	}
	return out
}

func tail(r *SummaryRow) float64 {
	if r.P999 == r.P999 && r.P999 > 0 { // not NaN
		return r.P999
	}
	return r.P99
}

func (rep *Report) figures() []*Figure {
	var out []*Figure
	for _, rr := range rep.Runs {
		for _, s := range rr.Sections {
			out = append(out, s.Figures...)
		}
	}
	if rep.Compare != nil {
		for _, s := range rep.Compare.Sections {
			out = append(out, s.Figures...)
		}
	}
	return out
}

func (rep *Report) renderFigures() error {
	for _, f := range rep.figures() {
		if err := f.render(); err != nil {
			return fmt.Errorf("figure %s: %w", f.ID, err)
		}
	}
	return nil
}

func (rep *Report) write(out string) error {
	figDir := filepath.Join(out, "figures")
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return err
	}
	// Figures of an earlier report in the same place would linger beside report.md.
	if old, err := filepath.Glob(filepath.Join(figDir, "*.svg")); err == nil {
		for _, f := range old {
			_ = os.Remove(f)
		}
	}
	for _, f := range rep.figures() {
		if err := os.WriteFile(filepath.Join(figDir, f.ID+".svg"), f.SVG, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(figDir, overviewFigure), sideBySideSVG(rep.sideRows()), 0o644); err != nil {
		return err
	}
	html, err := rep.HTML()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "report.html"), html, 0o644); err != nil {
		return err
	}
	var analyses []*Analysis
	for _, rr := range rep.Runs {
		analyses = append(analyses, rr.Analyses...)
	}
	if rows := failoverCSV(analyses); len(rows) > 1 {
		if err := writeCSVFile(filepath.Join(out, "failover.csv"), rows); err != nil {
			return err
		}
	}
	// An earlier report's capacity.csv in the same place would be taken for this one's.
	if rows := rep.capacityCSV(); len(rows) > 1 {
		if err := writeCSVFile(filepath.Join(out, CapacityFile), rows); err != nil {
			return err
		}
	} else if err := os.Remove(filepath.Join(out, CapacityFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.WriteFile(filepath.Join(out, "report.md"), rep.Markdown(), 0o644)
}

// CapacityFile is the report's table of every test's load controller (a seek's
// capacity and bracket), beside report.html.
const CapacityFile = "capacity.csv"

// writeCSVFile writes rows with CRLF line ends, as Locust's CSV files.
func writeCSVFile(path string, rows [][]string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.UseCRLF = true
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// problems lists what is missing or damaged in a run, by test.
func (rr *RunReport) problems() []string {
	out := append([]string(nil), rr.Run.Problems...)
	for _, t := range rr.Run.Tests {
		for _, p := range t.Problems {
			out = append(out, t.Label+": "+p)
		}
	}
	return out
}

// settings returns run.json's settings sorted by name.
func (rr *RunReport) settings() [][2]string {
	if rr.Run.Info == nil {
		return nil
	}
	var out [][2]string
	for k, v := range rr.Run.Info.Settings {
		out = append(out, [2]string{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func fmtMS(v float64) string {
	if v != v {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", v)
}
