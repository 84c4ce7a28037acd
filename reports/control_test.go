package reports

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/rundir"
)

// stepsCSV is a seek's capacity.csv as `zkload run --seek` writes it: passed up to
// 400/s (the knee), failed at 417.7/s (held twice: a retry) and at 800/s.
const stepsCSV = "Level,Unit,Offered,Achieved,p50 (ms),p99 (ms),p99.9 (ms),Error Rate,Pass,Steady,Knee,How,Why\r\n" +
	"100.0,rate,100.0,100.0,1.078,5.015,9.167,0.0000,true,true,false,start,\"errors 0% < 1%, p99 5.02ms < 2s\"\r\n" +
	"200.0,rate,200.0,199.6,0.969,3.699,5.535,0.0000,true,true,false,growth,\"errors 0% < 1%, p99 3.7ms < 2s\"\r\n" +
	"400.0,rate,400.1,399.7,5.831,9.119,12.239,0.0000,true,true,true,growth,\"errors 0% < 1%, p99 9.12ms < 2s\"\r\n" +
	"417.7,rate,418.0,400.0,108.671,171.135,172.543,0.0000,false,false,false,bisect,p50 rises 42.3ms a second\r\n" +
	"417.7,rate,417.9,400.0,109.695,172.799,177.535,0.0000,false,false,false,retry,p50 rises 42.1ms a second\r\n" +
	"800.0,rate,802.1,400.1,753.151,997.887,1002.495,0.0125,false,false,false,growth,\"achieved 400.1/s, less than half the 802.1/s offered\"\r\n"

// controlCSV is a control.csv of three windows (from t0 + 1 s), the reason of each.
func controlCSV() string {
	s := "Time,Mode,Unit,Offered,Achieved,Users,Requests,Failures,Error Rate,p50 (ms),p99 (ms),p99.9 (ms),Lag (ms),Decided Rate,Decided Users,Reason\r\n"
	for i, r := range []struct {
		offered, achieved, decided float64
		reason                     string
	}{{100.9, 99.9, 100, "holding 100/s: not judged yet"}, {99.1, 100.1, 200, "100/s passed: growth to 200/s"},
		{200.2, 199.6, 200, "holding 200/s: not judged yet"}} {
		s += fmt.Sprintf("%s,seek,rate,%.1f,%.1f,64,100,0,0.0000,1.203,13.495,17.135,0.000,%.1f,,\"%s\"\r\n",
			t0.Add(time.Duration(i+1)*time.Second).Format("2006-01-02T15:04:05.000Z"), r.offered, r.achieved, r.decided, r.reason)
	}
	return s
}

// writeSeekRun writes a `zkload run --report-dir` run of one test with a seek's files
// and run.json's control: the capacity cap, its bracket up to hi.
func writeSeekRun(t *testing.T, dir string, capacity, hi float64) {
	t.Helper()
	writeRun(t, dir, genRun{workers: 1, seconds: 5, slow: 1})
	write(t, filepath.Join(dir, rundir.Name(rundir.Capacity, "", "")), stepsCSV)
	write(t, filepath.Join(dir, rundir.Name(rundir.Control, "", "")), controlCSV())
	ri := rundir.RunInfo{Command: []string{"zkload", "run", "Http", "--seek", "errors<1%, p99<2s"}, Start: t0.Format(time.RFC3339),
		End: t0.Add(6 * time.Second).Format(time.RFC3339), Tests: []string{"Http"},
		Control: &rundir.ControlResult{Mode: "seek", Unit: "rate", Spec: "errors<1%, p99<2s", Capacity: capacity, Lo: capacity, Hi: hi,
			Precision: hi/capacity - 1, Achieved: capacity - 0.3, Done: true, Reason: "bracket within 4.4%"}}
	if err := ri.Write(filepath.Join(dir, rundir.Info)); err != nil {
		t.Fatal(err)
	}
}

// chartSpecs returns every chart's data, as report.html has it with the chart
// library (the same in a build without it).
func chartSpecs(t *testing.T, rep *Report) map[string]chartSpec {
	t.Helper()
	var specs []chartSpec
	if err := json.Unmarshal(chartData(rep.figures()), &specs); err != nil {
		t.Fatal(err)
	}
	out := map[string]chartSpec{}
	for _, s := range specs {
		out[s.ID] = s
	}
	return out
}

// TestReportSeek: a seek's run gives its capacity in the verdicts, the overview's
// "Load control" table and capacity.csv beside the report, exactly as run.json has
// it; the test's "Load control" part has the steps (the knee's row stressed), the
// curve with the knee and the failed levels marked, the latencies per level with the
// p99 bound, the errors per level with theirs, and the controller over time with its
// reason per window for the hover.
func TestReportSeek(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeSeekRun(t, run, 400, 417.70951297096553)
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	page := readFile(t, filepath.Join(out, "report.html"))
	md := readFile(t, filepath.Join(out, "report.md"))
	text := html.UnescapeString(page)
	verdict := "Capacity of Http at errors<1%, p99<2s: 400 operations/s (achieved 399.7/s; the knee between 400 and 417.7, ±2.2%)."
	for _, want := range []string{verdict, `<a class="sub" href="#load-control">Load control</a>`,
		"<td>seek</td><td class=\"l\">errors<1%, p99<2s</td><td>400 operations/s</td><td>400 – 417.7 (±2.2%)</td><td>399.7/s</td><td>6</td>",
		`<tr class="knee"><td class="l">400</td><td class="l">400.1</td><td class="l">399.7</td><td class="l">5.831</td><td class="l">9.119</td><td class="l">12.239</td>`,
		"Http: load control"} {
		if !strings.Contains(text, want) && !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, want := range []string{"## Load control", "| Http | seek | errors&lt;1%, p99&lt;2s | 400 operations/s | 400 – 417.7 (±2.2%) | 399.7/s | 6 | bracket within 4.4% |",
		"| 400 | 400.1 | 399.7 | 5.831 | 9.119 | 12.239 | 0.00 % | pass: the knee (capacity) | true | growth |",
		"| 800 | 802.1 | 400.1 | 753.151 | 997.887 | 1002.495 | 1.25 % | FAIL | false | growth |",
		"figures/Http_control_curve.svg", "figures/Http_control_latency.svg", "figures/Http_control_errors.svg", "figures/Http_control_over-time.svg"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	rows := readCSV(t, filepath.Join(out, CapacityFile))
	want := []string{"Run", "Test", "Mode", "Unit", "Spec", "Capacity", "Lo", "Hi", "Precision", "Achieved", "Done", "Reason", "Verdict", "From"}
	if len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(want, ",") {
		t.Fatalf("capacity.csv %q, want the header %v and one row", rows, want)
	}
	if got := strings.Join(rows[1][1:], "|"); got != "Http|seek|rate|errors<1%, p99<2s|400.0|400.0|417.7|0.0443|399.7|true|bracket within 4.4%||run.json" {
		t.Errorf("capacity.csv row %q", got)
	}

	specs := chartSpecs(t, rep)
	curve, ok := specs["Http_control_curve"]
	if !ok {
		t.Fatalf("no capacity curve among %d charts", len(specs))
	}
	nums := func(ns []json.Number) string {
		var s []string
		for _, n := range ns {
			s = append(s, n.String())
		}
		return strings.Join(s, " ")
	}
	if curve.X != "level" || curve.XLabel != "offered, operations/s" || nums(curve.Knee) != "400.100" || nums(curve.Failed) != "417.900 418.000 802.100" {
		t.Errorf("curve: x %q %q, knee %v, failed %v; want the knee at 400.1/s offered, 3 failed levels", curve.X, curve.XLabel, curve.Knee, curve.Failed)
	}
	// The points: passed ones green, failed ones red, each at the rate it achieved.
	byName := map[string][]any{}
	for _, s := range curve.S {
		byName[s.Name] = s.V
	}
	at := func(series string, x string) any {
		for i, tx := range curve.T {
			if tx.String() == x {
				return byName[series][i]
			}
		}
		return "no x " + x
	}
	if v := at("achieved, passed", "400.100"); fmt.Sprint(v) != "399.7" {
		t.Errorf("achieved at the knee %v, want 399.7", v)
	}
	if v := at("achieved, failed", "802.100"); fmt.Sprint(v) != "400.1" {
		t.Errorf("achieved at 802.1 offered %v, want 400.1 (failed)", v)
	}
	if v := at("achieved, passed", "802.100"); v != nil {
		t.Errorf("a failed level among the passed: %v", v)
	}
	lat := specs["Http_control_latency"]
	names := []string{}
	for _, s := range lat.S {
		names = append(names, s.Name)
	}
	if !lat.Log || !lat.US || strings.Join(names, ",") != "p50,p99,bound p99<2s,p99.9" {
		t.Errorf("latency per level: log %v, µs %v, series %v", lat.Log, lat.US, names)
	}
	if errs := specs["Http_control_errors"]; len(errs.S) != 2 || errs.S[1].Name != "bound errors<1%" {
		t.Errorf("errors per level: %+v", errs.S)
	}
	over := specs["Http_control_over-time"]
	if over.X != "time" || len(over.Hover) != 3 || over.Hover[1] == nil || *over.Hover[1] != "100/s passed: growth to 200/s" {
		t.Errorf("controller over time: x %q, hover %v", over.X, over.Hover)
	}
	if len(rep.Runs[0].Parts[0].Sections) == 0 || rep.Runs[0].Parts[0].Sections[0].Title != "Http: load control" {
		t.Errorf("the test's first part is not its load control")
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	tb := readTable(&Test{}, path)
	if tb == nil {
		t.Fatalf("%s: unreadable", path)
	}
	header := make([]string, len(tb.col))
	for name, i := range tb.col {
		header[i] = name
	}
	return append([][]string{header}, tb.rows...)
}

// TestReportCapacityComparison: comparing runs states each test's change of capacity
// with its direction, in the differences and the overview's table.
func TestReportCapacityComparison(t *testing.T) {
	base, worse, better, out := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	writeSeekRun(t, base, 400, 418)
	writeSeekRun(t, worse, 360, 380)
	writeSeekRun(t, better, 440, 460)
	rep, err := Generate(Options{Dirs: []string{base, worse, better}, Labels: []string{"before", "worse", "better"}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	page := html.UnescapeString(readFile(t, filepath.Join(out, "report.html")))
	md := readFile(t, filepath.Join(out, "report.md"))
	for _, want := range []string{"Http capacity: worse against before: 400 → 360 operations/s (-10%, worse).",
		"Http capacity: better against before: 400 → 440 operations/s (+10%, better)."} {
		if !strings.Contains(page, want) || !strings.Contains(md, want) {
			t.Errorf("the differences lack %q", want)
		}
	}
	if !strings.Contains(page, "<th>change against before</th>") || !strings.Contains(page, "<td>400 → 360 operations/s (-10%, worse)</td>") {
		t.Errorf("the overview's load control table lacks the change")
	}
	if rows := readCSV(t, filepath.Join(out, CapacityFile)); len(rows) != 4 || rows[2][0] != "worse" || rows[2][5] != "360.0" {
		t.Errorf("capacity.csv %q, want a row per run", rows)
	}
	// The gate compares the last run with the first.
	res, warn := rep.CapacityGate(0.05)
	if len(res) != 1 || res[0].Failed || len(warn) != 0 || math.Abs(res[0].Drop+0.1) > 1e-9 {
		t.Errorf("gate on a better last run: %+v %v", res, warn)
	}
}

// seekReport is a report of runs whose one test "get" has the given seeks (nil: no
// controller), for the gate.
func seekReport(results ...*rundir.ControlResult) *Report {
	rep := &Report{}
	for i, r := range results {
		rr := &RunReport{Run: &Run{Label: fmt.Sprintf("run%d", i+1)}}
		rr.Analyses = []*Analysis{{Test: &Test{Label: "get", ControlResult: r}}}
		rep.Runs = append(rep.Runs, rr)
	}
	return rep
}

func seekOf(capacity float64) *rundir.ControlResult {
	return &rundir.ControlResult{Mode: "seek", Unit: "rate", Capacity: capacity, Lo: capacity, Hi: capacity * 1.02, Done: true}
}

// TestCapacityGate: a capacity that dropped by more than the fraction fails, by
// exactly the fraction passes; what cannot be compared is a warning, not a failure.
func TestCapacityGate(t *testing.T) {
	for _, c := range []struct {
		base, last, fraction float64
		fail                 bool
	}{
		{400, 360, 0.1, false}, // exactly 10 %: passes
		{1000, 900, 0.1, false},
		{3, 2.7, 0.1, false},
		{400, 359.9, 0.1, true},
		{400, 360, 0.0999, true},
		{400, 300, 0.1, true},
		{400, 0, 0.5, true}, // no level passed any more
		{400, 500, 0, false},
		{400, 399.9, 0, true},
	} {
		res, warn := seekReport(seekOf(c.base), seekOf(c.last)).CapacityGate(c.fraction)
		if len(res) != 1 || len(warn) != 0 {
			t.Fatalf("%v: results %+v, warnings %v", c, res, warn)
		}
		if res[0].Failed != c.fail {
			t.Errorf("%v → %v with %v: failed %v, want %v (%s)", c.base, c.last, c.fraction, res[0].Failed, c.fail, res[0].Text)
		}
	}
	res, _ := seekReport(seekOf(400), seekOf(300)).CapacityGate(0.1)
	if want := "capacity of get dropped 25.0%, more than 10%: 400 operations/s in the baseline run1, 300 in run2"; res[0].Text != want {
		t.Errorf("gate text %q, want %q", res[0].Text, want)
	}
	// The last run is compared with the first, not with the one between.
	if res, _ := seekReport(seekOf(400), seekOf(100), seekOf(390)).CapacityGate(0.1); len(res) != 1 || res[0].Failed || res[0].Last != "run3" {
		t.Errorf("three runs: %+v", res)
	}
	users := seekOf(40)
	users.Unit = "users"
	for name, rep := range map[string]*Report{
		"one run":          seekReport(seekOf(400)),
		"no seek":          seekReport(nil, nil),
		"no seek in last":  seekReport(seekOf(400), &rundir.ControlResult{Mode: "hold", Unit: "rate"}),
		"no seek in base":  seekReport(nil, seekOf(400)),
		"units differ":     seekReport(seekOf(400), users),
		"nothing passed 1": seekReport(seekOf(0), seekOf(400)),
	} {
		res, warn := rep.CapacityGate(0.1)
		if len(res) != 0 || len(warn) != 1 || !strings.HasPrefix(warn[0], "capacity gate: ") {
			t.Errorf("%s: results %+v, warnings %q; want one warning", name, res, warn)
		}
	}
}

// TestParseShare: a fraction or a percentage from 0 up to 1; anything else is one
// line naming the input.
func TestParseShare(t *testing.T) {
	for in, want := range map[string]float64{"0.1": 0.1, "10%": 0.1, " 12.5 % ": 0.125, "0": 0, "0.999": 0.999} {
		if got, err := ParseShare(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseShare(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "1", "100%", "-0.1", "NaN", "10%%", "1e3"} {
		if _, err := ParseShare(in); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseShare(%q): error %v, want one line naming the input", in, err)
		}
	}
}

// TestReportDerivesCapacity: a suite's tests, each with its own capacity.csv and no
// controller's result in run.json, get their capacity from their knee, the bracket's
// top from the lowest failed level above it, and the report says where it came from.
func TestReportDerivesCapacity(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "get", workers: 1, seconds: 3, slow: 1})
	writeRun(t, run, genRun{label: "set", workers: 1, seconds: 3, slow: 1})
	write(t, filepath.Join(run, "get_capacity.csv"), stepsCSV)
	write(t, filepath.Join(run, "set_capacity.csv"), strings.ReplaceAll(stepsCSV, ",true,growth,", ",false,growth,"))
	if err := os.Remove(filepath.Join(run, "set_zk_metrics.csv")); err != nil {
		t.Fatal(err)
	}
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*rundir.ControlResult{}
	for _, tt := range rep.Runs[0].Run.Tests {
		got[tt.Label] = tt.ControlResult
		if tt.ControlFrom != tt.Label+"_capacity.csv" {
			t.Errorf("%s: from %q", tt.Label, tt.ControlFrom)
		}
	}
	if g := got["get"]; g == nil || g.Capacity != 400 || g.Hi != 417.7 || g.Achieved != 399.7 || math.Abs(g.Precision-0.04425) > 1e-4 {
		t.Errorf("get: derived %+v, want 400 (the knee), bracket to 417.7", g)
	}
	// No knee marked: the highest level that passed.
	if g := got["set"]; g == nil || g.Capacity != 400 {
		t.Errorf("set: derived %+v, want 400 (the highest passed)", g)
	}
	if page := html.UnescapeString(readFile(t, filepath.Join(out, "report.html"))); !strings.Contains(page, "(from get_capacity.csv: run.json has no controller's result for this test)") {
		t.Errorf("the report does not say where get's capacity came from")
	}
}

// TestCapacityText: a seek's capacity in one line, as the verdicts, the test's part and
// `zkload report` state it, finished or cut short by the test's end.
func TestCapacityText(t *testing.T) {
	for _, c := range []struct {
		r    rundir.ControlResult
		want string
	}{
		{rundir.ControlResult{Mode: "seek", Unit: "rate", Spec: "p99<10ms", Capacity: 1234.56, Lo: 1234.56, Hi: 1259.3, Precision: 0.02, Achieved: 1230.04, Done: true},
			"Capacity of get at p99<10ms: 1234.6 operations/s (achieved 1230/s; the knee between 1234.6 and 1259.3, ±1.0%)."},
		{rundir.ControlResult{Mode: "seek", Unit: "users", Spec: "p99<20ms", Capacity: 31, Lo: 31, Hi: 32, Precision: 1.0 / 31, Done: true},
			"Capacity of get at p99<20ms: 31 users (the knee between 31 and 32, ±1.6%)."},
		{rundir.ControlResult{Mode: "seek", Unit: "rate", Spec: "errors<1%", Capacity: 200, Lo: 200, Done: true},
			"Capacity of get at errors<1%: at least 200 operations/s (no level failed)."},
		{rundir.ControlResult{Mode: "seek", Unit: "rate", Spec: "errors<1%", Reason: "holding 50/s: not judged yet"},
			"Capacity of get at errors<1%: none: no level passed; the search did not finish (holding 50/s: not judged yet)."},
		{rundir.ControlResult{Mode: "stages", Unit: "rate", Spec: "10s:100", Reason: "the stages ended", Done: true},
			"Load control of get (stages 10s:100): the stages ended."},
	} {
		if got := controlLine("get", &c.r); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// TestReportWorkerControl: workers sharing a directory behind a master, the hub's
// worker_<tag>.json holding the controller's outcome: the test takes it (with its
// spec), not one derived from capacity.csv.
func TestReportWorkerControl(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{tags: []string{"a_00000001", "b_00000002"}, seconds: 3, slow: 1})
	write(t, filepath.Join(run, rundir.Name(rundir.Capacity, "", "")), stepsCSV)
	ri := rundir.RunInfo{Command: []string{"zkload", "worker", "Get"}, Tests: []string{"Get"}, NodeID: "b_00000002",
		Control: &rundir.ControlResult{Mode: "seek", Unit: "rate", Spec: "errors<1%, p99<2s", Capacity: 400, Lo: 400, Hi: 417.7, Precision: 0.04425, Done: true}}
	if err := ri.Write(filepath.Join(run, "worker_b_00000002.json")); err != nil {
		t.Fatal(err)
	}
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	tt := rep.Runs[0].Run.Tests[0]
	if tt.ControlResult == nil || tt.ControlResult.Spec != "errors<1%, p99<2s" || tt.ControlFrom != "worker_b_00000002.json" {
		t.Errorf("control %+v from %q; want the hub's, from worker_b_00000002.json", tt.ControlResult, tt.ControlFrom)
	}
}
