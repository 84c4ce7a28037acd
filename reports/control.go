package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/control"
	"github.com/zkload/zkload/rundir"
)

// The load controller's part of a report (issue #15, doc/load-control.md): what a seek
// found (the capacity, its bracket, the curve of offered against achieved load with the
// knee marked) and what the controller decided window after window, read from a test's
// control.csv and capacity.csv and from run.json's control.

// ControlRow is one row of a test's control.csv: one statistics window, what the
// controller saw in it and the decision in force after it.
type ControlRow struct {
	Time               time.Time
	Mode, Unit         string
	Offered, Achieved  float64 // operations/s
	Users              int
	Requests, Failures int64
	ErrorRate          float64 // a fraction; NaN: no request in the window
	P50, P99, P999     float64 // ms; NaN: no request in the window
	// DecidedRate and DecidedUsers are the decision in force after the window; NaN:
	// none (the other unit, or before the first decision).
	DecidedRate, DecidedUsers float64
	Reason                    string
}

// Step is one row of a test's capacity.csv: one level a seek held (a level held twice,
// a retry, has two).
type Step struct {
	Level             float64 // operations/s or users
	Unit              string
	Offered, Achieved float64 // operations/s
	P50, P99, P999    float64 // ms
	ErrorRate         float64 // a fraction
	Pass, Steady      bool
	// Knee marks the step at the capacity.
	Knee     bool
	How, Why string
}

// x is where the step is on the capacity curve: the rate it offered (measured), or
// its users in a closed loop.
func (s Step) x() float64 {
	if s.Unit != "users" && s.Offered > 0 {
		return s.Offered
	}
	return s.Level
}

func readControl(t *Test, path string) []ControlRow {
	return readRows(t, path, []string{"Time", "Mode", "Unit", "Offered", "Achieved"}, false, func(tb *table, r []string) (ControlRow, bool) {
		ts, ok := parseTS(tb.get(r, "Time"))
		return ControlRow{Time: ts, Mode: tb.get(r, "Mode"), Unit: tb.get(r, "Unit"),
			Offered: fnum(tb.get(r, "Offered")), Achieved: fnum(tb.get(r, "Achieved")), Users: int(inum(tb.get(r, "Users"))),
			Requests: inum(tb.get(r, "Requests")), Failures: inum(tb.get(r, "Failures")), ErrorRate: fnum(tb.get(r, "Error Rate")),
			P50: fnum(tb.get(r, "p50 (ms)")), P99: fnum(tb.get(r, "p99 (ms)")), P999: fnum(tb.get(r, "p99.9 (ms)")),
			DecidedRate: fnum(tb.get(r, "Decided Rate")), DecidedUsers: fnum(tb.get(r, "Decided Users")),
			Reason: tb.get(r, "Reason")}, ok
	})
}

func readSteps(t *Test, path string) []Step {
	return readRows(t, path, []string{"Level", "Achieved", "Pass"}, false, func(tb *table, r []string) (Step, bool) {
		s := Step{Level: fnum(tb.get(r, "Level")), Unit: tb.get(r, "Unit"), Offered: fnum(tb.get(r, "Offered")),
			Achieved: fnum(tb.get(r, "Achieved")), P50: fnum(tb.get(r, "p50 (ms)")), P99: fnum(tb.get(r, "p99 (ms)")),
			P999: fnum(tb.get(r, "p99.9 (ms)")), ErrorRate: fnum(tb.get(r, "Error Rate")),
			Pass: tb.get(r, "Pass") == "true", Steady: tb.get(r, "Steady") == "true", Knee: tb.get(r, "Knee") == "true",
			How: tb.get(r, "How"), Why: tb.get(r, "Why")}
		return s, !math.IsNaN(s.Level)
	})
}

// attachControl gives each test its controller's outcome. run.json holds one (the
// controller of `zkload run`): it is the test's that has the controller's files, or
// the run's only test. A test with files but no outcome in run.json takes the one a
// worker's information holds (the hub's, behind a master), else one derived from its
// files (several tests with controllers: a suite).
func (r *Run) attachControl() {
	var with []*Test
	for _, t := range r.Tests {
		if len(t.Steps)+len(t.Control) > 0 {
			with = append(with, t)
		}
	}
	if r.Info != nil && r.Info.Control != nil {
		switch {
		case len(with) == 1:
			with[0].ControlResult, with[0].ControlFrom = r.Info.Control, rundir.Info
		case len(with) == 0 && len(r.Tests) == 1:
			r.Tests[0].ControlResult, r.Tests[0].ControlFrom = r.Info.Control, rundir.Info
		}
	}
	for _, t := range with {
		if t.ControlResult == nil {
			t.ControlResult, t.ControlFrom = workerControl(t)
		}
		if t.ControlResult == nil {
			t.ControlResult, t.ControlFrom = deriveControl(t)
		}
	}
}

// workerControl is the controller's outcome a worker of a shared directory recorded in
// its worker_<tag>.json (the hub's, behind a master), nil when none did.
func workerControl(t *Test) (*rundir.ControlResult, string) {
	for _, p := range t.Files[rundir.WorkerInfo] {
		if ri, err := rundir.ReadRunInfo(p); err == nil && ri.Control != nil {
			return ri.Control, kindFile(rundir.WorkerInfo, rundir.Files{rundir.WorkerInfo: {p}})
		}
	}
	return nil, ""
}

// deriveControl is what a test's files say of its controller's outcome, without
// run.json's: a seek's capacity is its knee's level (else its highest level that
// passed), the bracket's top the lowest level above it that failed.
func deriveControl(t *Test) (*rundir.ControlResult, string) {
	if len(t.Steps) > 0 {
		res := &rundir.ControlResult{Mode: "seek", Unit: t.Steps[0].Unit}
		var knee *Step
		for i := range t.Steps {
			s := &t.Steps[i]
			if s.Knee || (s.Pass && (knee == nil || !knee.Knee && s.Level > knee.Level)) {
				knee = s
			}
		}
		if knee != nil {
			res.Capacity, res.Lo, res.Achieved = knee.Level, knee.Level, knee.Achieved
		}
		for _, s := range t.Steps {
			if !s.Pass && s.Level > res.Lo && (res.Hi == 0 || s.Level < res.Hi) {
				res.Hi = s.Level
			}
		}
		if res.Lo > 0 && res.Hi > 0 {
			res.Precision = res.Hi/res.Lo - 1
		}
		// Whether the search ended is run.json's to say; a bracket is what it ends on.
		res.Done = res.Hi > 0
		if n := len(t.Control); n > 0 {
			res.Reason = t.Control[n-1].Reason
		}
		return res, kindFile(rundir.Capacity, t.Files)
	}
	last := t.Control[len(t.Control)-1]
	return &rundir.ControlResult{Mode: last.Mode, Unit: last.Unit, Reason: last.Reason}, kindFile(rundir.Control, t.Files)
}

// kindFile is the base name of a test's first file of a kind.
func kindFile(k rundir.Kind, files rundir.Files) string {
	if ps := files[k]; len(ps) > 0 {
		return ps[0][strings.LastIndexAny(ps[0], `/\`)+1:]
	}
	return string(k)
}

// unitName is a control unit's name in text: operations/s or users.
func unitName(unit string) string {
	if unit == "users" {
		return "users"
	}
	return "operations/s"
}

// fmtLevel shows a rate or a number of users to a tenth, without a trailing ".0":
// "400", "417.7" (capacity.csv's precision).
func fmtLevel(v float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64), ".0")
}

// capacityText states a seek's capacity as the console does: "400 operations/s
// (achieved 399.7/s; the knee between 400 and 417.7, ±2.2%)".
func capacityText(r *rundir.ControlResult) string {
	unit := unitName(r.Unit)
	var s string
	switch {
	case r.Capacity == 0:
		s = "none: no level passed"
	case r.Hi == 0:
		s = fmt.Sprintf("at least %s %s (no level failed)", fmtLevel(r.Capacity), unit)
	default:
		s = fmt.Sprintf("%s %s (", fmtLevel(r.Capacity), unit)
		if r.Achieved > 0 {
			s += fmt.Sprintf("achieved %s/s; ", fmtLevel(r.Achieved))
		}
		s += fmt.Sprintf("the knee between %s and %s, %s)", fmtLevel(r.Lo), fmtLevel(r.Hi), bracketPM(r))
	}
	if !r.Done {
		// The test ended first (its run time): what was found so far, and where it was.
		s += "; the search did not finish"
		if r.Reason != "" {
			s += " (" + strings.TrimSuffix(r.Reason, ".") + ")"
		}
	}
	return s
}

// bracketPM is the bracket's half-width as a share of the capacity: "±2.2%".
func bracketPM(r *rundir.ControlResult) string {
	if r.Precision <= 0 {
		return "±?"
	}
	return fmt.Sprintf("±%.1f%%", 100*r.Precision/2)
}

// isSeek reports whether the outcome is a seek's, with a capacity to compare.
func isSeek(r *rundir.ControlResult) bool { return r != nil && r.Mode == "seek" }

// controlLine is a test's controller in one line: the verdicts' and `zkload report`'s.
func controlLine(test string, r *rundir.ControlResult) string {
	spec := ""
	if r.Spec != "" {
		spec = " at " + r.Spec
	}
	if isSeek(r) {
		return fmt.Sprintf("Capacity of %s%s: %s.", test, spec, capacityText(r))
	}
	line := fmt.Sprintf("Load control of %s (%s%s): %s", test, r.Mode, strings.Replace(spec, " at ", " ", 1), r.Reason)
	if r.Verdict != "" {
		line += "; the watchdog stopped the test: " + r.Verdict
	}
	return strings.TrimSuffix(line, ": ") + "."
}

// controlSection is the test's "Load control" part: the result, the capacity curve
// and the latencies and errors per level (a seek), the controller over time, and the
// steps held. ok is false when the test had no controller.
func (a *Analysis) controlSection(prefix string) (sec Section, ok bool) {
	t := a.Test
	if t.ControlResult == nil && len(t.Steps)+len(t.Control) == 0 {
		return sec, false
	}
	sec.Title = a.Test.Label + ": load control"
	res := t.ControlResult
	if res != nil {
		from := ""
		if t.ControlFrom != rundir.Info {
			from = fmt.Sprintf(" (from %s: run.json has no controller's result for this test)", t.ControlFrom)
		}
		note := controlLine(a.Test.Label, res) + from
		if isSeek(res) && res.Reason != "" {
			note += " The search ended: " + res.Reason + "."
		}
		sec.Notes = append(sec.Notes, note)
	}
	id := func(what string) string { return figID(prefix, a.Test.Label, "control", what) }
	if len(t.Steps) > 0 {
		sec.Figures = append(sec.Figures, a.curveFigures(id, res)...)
		if !hasErrors(t.Steps) {
			sec.Notes = append(sec.Notes, "No errors at any level held.")
		}
		sec.Table = stepsTable(t.Steps)
	}
	if f := a.controllerFigure(id); f != nil {
		sec.Figures = append(sec.Figures, f)
	}
	return sec, true
}

func hasErrors(steps []Step) bool {
	for _, s := range steps {
		if s.ErrorRate > 0 {
			return true
		}
	}
	return false
}

// curveFigures are a seek's curve (achieved against offered, the knee marked, the
// failed levels apart), its latencies per level and its errors per level (when any
// level had errors), each with the constraints' bounds.
func (a *Analysis) curveFigures(id func(string) string, res *rundir.ControlResult) []*Figure {
	steps := append([]Step(nil), a.Test.Steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].x() < steps[j].x() })
	unit := steps[0].Unit
	xLabel := "offered, operations/s"
	if unit == "users" {
		xLabel = "users"
	}
	var knee, failed []float64
	for _, s := range steps {
		if s.Knee {
			knee = append(knee, s.x())
		}
		if !s.Pass {
			failed = append(failed, s.x())
		}
	}
	lo, hi := steps[0].x(), steps[len(steps)-1].x()
	newFig := func(what, title, y string) *Figure {
		return &Figure{ID: id(what), Title: title, YLabel: y, XLabel: xLabel, Level: true, Knee: knee, Failed: failed}
	}
	curve := newFig("curve", "Capacity curve: achieved against offered (each level held; the knee at the capacity)", "operations/s")
	if unit != "users" {
		curve.Series = append(curve.Series, Series{Name: "achieved = offered", X: []float64{0, hi}, Y: []float64{0, hi}, Style: 4, Dotted: true})
	}
	passed, fails := Series{Name: "achieved, passed", Style: 1, Points: true}, Series{Name: "achieved, failed", Style: 0, Points: true}
	for _, s := range steps {
		if s.Pass {
			passed.X, passed.Y = append(passed.X, s.x()), append(passed.Y, s.Achieved)
		} else {
			fails.X, fails.Y = append(fails.X, s.x()), append(fails.Y, s.Achieved)
		}
	}
	curve.Series = append(curve.Series, passed, fails)
	// The constraints' bounds by signal (ms, or a fraction for errors), drawn beside
	// the values they bound.
	type bound struct {
		limit float64
		text  string
	}
	bounds := map[string]bound{}
	if res != nil && res.Mode == "seek" {
		if cs, err := control.ParseConstraints(res.Spec); err == nil {
			for _, c := range cs {
				switch {
				case c.Signal.Latency():
					bounds[c.Signal.Name] = bound{c.Limit * 1000, c.Text}
				case c.Signal.Name == "errors":
					bounds["errors"] = bound{c.Limit, c.Text}
				}
			}
		}
	}
	lat := newFig("latency", "Latency per level: p50, p99, p99.9 (dotted: the constraints' bounds)", "ms")
	lat.LogY = true
	for _, p := range []struct {
		name  string
		style int
		v     func(Step) float64
	}{{"p50", 0, func(s Step) float64 { return s.P50 }}, {"p99", 2, func(s Step) float64 { return s.P99 }},
		{"p99.9", 3, func(s Step) float64 { return s.P999 }}} {
		s := Series{Name: p.name, Style: p.style, Points: true, Line: true}
		for _, st := range steps {
			s.X, s.Y = append(s.X, st.x()), append(s.Y, p.v(st))
		}
		lat.Series = append(lat.Series, s)
		if b, ok := bounds[p.name]; ok {
			lat.Series = append(lat.Series, Series{Name: "bound " + strings.TrimSpace(b.text), X: []float64{lo, hi}, Y: []float64{b.limit, b.limit}, Style: p.style, Dotted: true})
		}
	}
	figs := []*Figure{curve, lat}
	if hasErrors(steps) {
		errs := newFig("errors", "Error rate per level", "%")
		s := Series{Name: "error rate", Style: 0, Points: true, Line: true}
		for _, st := range steps {
			s.X, s.Y = append(s.X, st.x()), append(s.Y, 100*st.ErrorRate)
		}
		errs.Series = append(errs.Series, s)
		if b, ok := bounds["errors"]; ok {
			errs.Series = append(errs.Series, Series{Name: "bound " + strings.TrimSpace(b.text), X: []float64{lo, hi}, Y: []float64{100 * b.limit, 100 * b.limit}, Style: 0, Dotted: true})
		}
		figs = append(figs, errs)
	}
	return figs
}

// controllerFigure is the controller over time, one point a window: the rate offered,
// decided and achieved (or the users running and decided), the controller's reason
// at each window on hover (interactive charts).
func (a *Analysis) controllerFigure(id func(string) string) *Figure {
	rows := a.Test.Control
	if len(rows) == 0 {
		return nil
	}
	users := rows[0].Unit == "users"
	f := &Figure{ID: id("over-time"), Markers: a.markers(), Hover: map[float64]string{}}
	if users {
		f.Title, f.YLabel = "Load controller over time: users running and decided (hover: the controller's reason)", "users"
	} else {
		f.Title, f.YLabel = "Load controller over time: rate offered, decided and achieved (hover: the controller's reason)", "operations/s"
	}
	var s []Series
	if users {
		s = []Series{{Name: "users", Style: 2}, {Name: "decided users", Style: 0, Dotted: true}}
	} else {
		s = []Series{{Name: "offered", Style: 2}, {Name: "decided rate", Style: 0, Dotted: true}, {Name: "achieved", Style: 1}}
	}
	for _, r := range rows {
		x := unix(r.Time)
		if users {
			s[0].X, s[0].Y = append(s[0].X, x), append(s[0].Y, float64(r.Users))
			s[1].X, s[1].Y = append(s[1].X, x), append(s[1].Y, r.DecidedUsers)
		} else {
			s[0].X, s[0].Y = append(s[0].X, x), append(s[0].Y, r.Offered)
			s[1].X, s[1].Y = append(s[1].X, x), append(s[1].Y, r.DecidedRate)
			s[2].X, s[2].Y = append(s[2].X, x), append(s[2].Y, r.Achieved)
		}
		if r.Reason != "" {
			f.Hover[x] = r.Reason
		}
	}
	f.Series = s
	return f
}

// stepsHeader is the steps table's columns.
var stepsHeader = []string{"level", "offered /s", "achieved /s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "result", "steady", "how", "why"}

// stepsTable lists the steps as capacity.csv has them (by level), the knee's first.
func stepsTable(steps []Step) *Table {
	tb := &Table{Header: stepsHeader}
	for _, s := range steps {
		result := "pass"
		if s.Knee {
			result = "pass: the knee (capacity)"
		} else if !s.Pass {
			result = "FAIL"
		}
		tb.Rows = append(tb.Rows, []string{fmtLevel(s.Level), fmtNum(s.Offered), fmtNum(s.Achieved), fmtMS(s.P50), fmtMS(s.P99), fmtMS(s.P999),
			fmt.Sprintf("%.2f %%", 100*s.ErrorRate), result, strconv.FormatBool(s.Steady), s.How, s.Why})
		tb.Strong = append(tb.Strong, s.Knee)
	}
	return tb
}

// controlOverviewRow is one test's controller in the overview.
type controlOverviewRow struct {
	Test, Href, Mode, Spec, Capacity, Bracket, Achieved, Steps, End, Change string
}

// controlRows are the overview's "Load control" rows: every test with a controller,
// with several runs the change of its capacity against the first run's.
func (rep *Report) controlRows() []controlOverviewRow {
	var out []controlOverviewRow
	for ri, rr := range rep.Runs {
		for _, a := range rr.Analyses {
			res := a.Test.ControlResult
			if res == nil {
				continue
			}
			r := controlOverviewRow{Test: a.Test.Label, Href: "#" + testID(runPrefix(rep, ri), a.Test.Label), Mode: res.Mode, Spec: res.Spec,
				Capacity: "–", Bracket: "–", Achieved: "–", Steps: fmt.Sprint(len(a.Test.Steps)), End: res.Reason}
			if len(rep.Runs) > 1 {
				r.Test = rr.Run.Label + " · " + r.Test
			}
			if res.Verdict != "" {
				r.End = "watchdog: " + res.Verdict
			}
			if a.Test.ControlFrom != rundir.Info {
				r.End = strings.TrimPrefix(r.End+"; ", "; ") + "from " + a.Test.ControlFrom
			}
			if isSeek(res) {
				switch {
				case res.Capacity == 0:
					r.Capacity = "none (no level passed)"
				case res.Hi == 0:
					r.Capacity = fmt.Sprintf("≥ %s %s", fmtLevel(res.Capacity), unitName(res.Unit))
				default:
					r.Capacity = fmt.Sprintf("%s %s", fmtLevel(res.Capacity), unitName(res.Unit))
				}
				if res.Hi > 0 {
					r.Bracket = fmt.Sprintf("%s – %s (%s)", fmtLevel(res.Lo), fmtLevel(res.Hi), bracketPM(res))
				}
				if res.Achieved > 0 {
					r.Achieved = fmtLevel(res.Achieved) + "/s"
				}
				if !res.Done {
					r.End = "not finished: " + r.End
				}
			}
			if rep.Compare != nil && ri > 0 {
				for _, d := range rep.Compare.Capacity {
					if d.Test == a.Test.Label && d.Run == rr.Run.Label {
						r.Change = d.text()
					}
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// CapacityDiff compares one test's capacity in one run with the first run's.
type CapacityDiff struct {
	Test, Run  string
	Unit       string
	Base, This *rundir.ControlResult
}

// Change is the capacity's relative change, NaN when the first run found none.
func (d CapacityDiff) Change() float64 { return Change(d.Base.Capacity, d.This.Capacity) }

// text is the change as the overview shows it: "400 → 360 operations/s (-10%, worse)".
func (d CapacityDiff) text() string {
	if d.Base.Unit != d.This.Unit {
		return fmt.Sprintf("%s %s → %s %s (not comparable)", fmtLevel(d.Base.Capacity), unitName(d.Base.Unit), fmtLevel(d.This.Capacity), unitName(d.This.Unit))
	}
	c := d.Change()
	s := fmt.Sprintf("%s → %s %s (%s", fmtLevel(d.Base.Capacity), fmtLevel(d.This.Capacity), unitName(d.Unit), pct(c))
	if dir := direction(c, true); dir != "" {
		s += ", " + dir
	}
	return s + ")"
}

// capacityDiffs pairs each seek of the first run with the same test's seek in each
// later run.
func capacityDiffs(runs []*RunReport) []CapacityDiff {
	var out []CapacityDiff
	for _, ba := range runs[0].Analyses {
		if !isSeek(ba.Test.ControlResult) {
			continue
		}
		for _, rr := range runs[1:] {
			for _, a := range rr.Analyses {
				if a.Test.Label == ba.Test.Label && isSeek(a.Test.ControlResult) {
					out = append(out, CapacityDiff{Test: a.Test.Label, Run: rr.Run.Label, Unit: ba.Test.ControlResult.Unit,
						Base: ba.Test.ControlResult, This: a.Test.ControlResult})
				}
			}
		}
	}
	return out
}

// capacityCSV is the report's capacity.csv: one row per test with a controller (a
// seek's capacity and bracket; the others' mode and how they ended).
func (rep *Report) capacityCSV() [][]string {
	rows := [][]string{{"Run", "Test", "Mode", "Unit", "Spec", "Capacity", "Lo", "Hi", "Precision", "Achieved", "Done", "Reason", "Verdict", "From"}}
	num := func(v float64, prec int) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	for _, rr := range rep.Runs {
		for _, a := range rr.Analyses {
			r := a.Test.ControlResult
			if r == nil {
				continue
			}
			rows = append(rows, []string{rr.Run.Label, a.Test.Label, r.Mode, r.Unit, r.Spec, num(r.Capacity, 1), num(r.Lo, 1), num(r.Hi, 1),
				num(r.Precision, 4), num(r.Achieved, 1), strconv.FormatBool(r.Done), r.Reason, r.Verdict, a.Test.ControlFrom})
		}
	}
	return rows
}

// GateResult is the capacity gate's finding for one test: its capacity in the first
// run (the baseline) and in the last.
type GateResult struct {
	Test, Base, Last string // the test, the runs' labels
	Unit             string
	BaseCapacity     float64
	LastCapacity     float64
	// Drop is 1 - last/base: 0.25 for a quarter less, negative for more.
	Drop float64
	// Failed: the capacity dropped by more than the gate's fraction.
	Failed bool
	// Text says it in one line.
	Text string
}

// gateEpsilon absorbs the rounding of a drop computed exactly at the gate's fraction
// (1 - 360/400 is 0.09999999999999998): exactly at the threshold passes.
const gateEpsilon = 1e-9

// CapacityGate compares each test's capacity in the last run with the first run's
// (the baseline): results for the tests found in both with a capacity, Failed when it
// dropped by more than fraction (0.1: more than 10 %); warnings say what could not be
// compared (one run only, a test without a seek in either run, units that differ, a
// baseline where no level passed).
func (rep *Report) CapacityGate(fraction float64) (results []GateResult, warnings []string) {
	if len(rep.Runs) < 2 {
		return nil, []string{"capacity gate: one run only, nothing to compare (give the baseline's run directory first, the new one last)"}
	}
	base, last := rep.Runs[0], rep.Runs[len(rep.Runs)-1]
	find := func(rr *RunReport, test string) *rundir.ControlResult {
		for _, a := range rr.Analyses {
			if a.Test.Label == test {
				return a.Test.ControlResult
			}
		}
		return nil
	}
	var tests []string
	seen := map[string]bool{}
	for _, rr := range []*RunReport{base, last} {
		for _, a := range rr.Analyses {
			if !seen[a.Test.Label] {
				seen[a.Test.Label] = true
				tests = append(tests, a.Test.Label)
			}
		}
	}
	for _, test := range tests {
		b, l := find(base, test), find(last, test)
		switch {
		case !isSeek(b) && !isSeek(l):
			continue
		case !isSeek(b):
			warnings = append(warnings, fmt.Sprintf("capacity gate: %s: no capacity in the baseline %s (no seek), only in %s: not compared", test, base.Run.Label, last.Run.Label))
			continue
		case !isSeek(l):
			warnings = append(warnings, fmt.Sprintf("capacity gate: %s: no capacity in %s (no seek), only in the baseline %s: not compared", test, last.Run.Label, base.Run.Label))
			continue
		case b.Unit != l.Unit:
			warnings = append(warnings, fmt.Sprintf("capacity gate: %s: the baseline's capacity is in %s, %s's in %s: not compared", test, unitName(b.Unit), last.Run.Label, unitName(l.Unit)))
			continue
		case b.Capacity == 0:
			warnings = append(warnings, fmt.Sprintf("capacity gate: %s: no level passed in the baseline %s: nothing to drop from", test, base.Run.Label))
			continue
		}
		g := GateResult{Test: test, Base: base.Run.Label, Last: last.Run.Label, Unit: b.Unit, BaseCapacity: b.Capacity, LastCapacity: l.Capacity,
			Drop: 1 - l.Capacity/b.Capacity}
		g.Failed = g.Drop-fraction > gateEpsilon
		caveat := ""
		if l.Hi == 0 && l.Capacity > 0 {
			caveat = fmt.Sprintf(" (%s's is a lower bound: no level failed)", last.Run.Label)
		}
		if g.Failed {
			g.Text = fmt.Sprintf("capacity of %s dropped %.1f%%, more than %s: %s %s in the baseline %s, %s in %s%s",
				test, 100*g.Drop, fmtShare(fraction), fmtLevel(g.BaseCapacity), unitName(g.Unit), base.Run.Label, fmtLevel(g.LastCapacity), last.Run.Label, caveat)
		} else {
			g.Text = fmt.Sprintf("capacity of %s: %s → %s %s (%s against the baseline %s), within the allowed drop of %s%s",
				test, fmtLevel(g.BaseCapacity), fmtLevel(g.LastCapacity), unitName(g.Unit), pct(-g.Drop), base.Run.Label, fmtShare(fraction), caveat)
		}
		results = append(results, g)
	}
	if len(results) == 0 && len(warnings) == 0 {
		warnings = append(warnings, fmt.Sprintf("capacity gate: no test has a capacity (zkload run --seek) in %s or %s: nothing compared", base.Run.Label, last.Run.Label))
	}
	return results, warnings
}

// fmtShare shows a fraction as a percentage: 0.1 "10%", 0.125 "12.5%".
func fmtShare(f float64) string {
	return strconv.FormatFloat(100*f, 'f', -1, 64) + "%"
}

// ParseShare reads a share of a whole: a fraction from 0 to 1 ("0.1") or a percentage
// ("10%"); its error names the input and says what is expected.
func ParseShare(text string) (float64, error) {
	t := strings.TrimSpace(text)
	scale := 1.0
	if strings.HasSuffix(t, "%") {
		t, scale = strings.TrimSpace(strings.TrimSuffix(t, "%")), 0.01
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || v*scale < 0 || v*scale >= 1 {
		return 0, fmt.Errorf("%q: want a share from 0 up to (not including) 1, such as 0.1, or a percentage such as 10%%", text)
	}
	return v * scale, nil
}

// controlHeader is the overview's "Load control" columns (with several runs, the
// change of the capacity against the first run too).
func (rep *Report) controlHeader() []string {
	h := []string{"test", "mode", "SLO / spec", "capacity", "bracket", "achieved", "levels held"}
	if rep.Compare != nil {
		h = append(h, "change against "+rep.Compare.Base)
	}
	return append(h, "how it ended")
}

// ControlLines are the load controllers' outcomes in one line each (every test with
// one, in every run), then the changes of capacity against the first run: what
// `zkload report` prints.
func (rep *Report) ControlLines() []string {
	var out []string
	for _, rr := range rep.Runs {
		for _, a := range rr.Analyses {
			if r := a.Test.ControlResult; r != nil {
				line := controlLine(a.Test.Label, r)
				if len(rep.Runs) > 1 {
					line = rr.Run.Label + ": " + line
				}
				out = append(out, line)
			}
		}
	}
	if rep.Compare != nil {
		for _, d := range rep.Compare.Capacity {
			out = append(out, fmt.Sprintf("%s capacity: %s against %s: %s.", d.Test, d.Run, rep.Compare.Base, d.text()))
		}
	}
	return out
}
