package reports

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zkload/zkload/stats"
	"gonum.org/v1/plot"
)

// suiteLabels are the nine tests of scripts/suite.sh.
var suiteLabels = []string{"create_and_delete", "exists_many", "exists", "get_children2", "get_children", "get", "set_and_get", "set", "watch"}

// writeSuite writes a nine-test suite run of the given seconds a test into dir.
func writeSuite(t *testing.T, dir string, seconds int) {
	for _, l := range suiteLabels {
		writeRun(t, dir, genRun{label: l, workers: 2, seconds: seconds, slow: 1})
	}
}

// TestReportSizeBudget: the report of a nine-test suite (two workers, 30 windows a
// test: three times the suite's default run time) stays under 2 MB with interactive
// charts, and says what it is.
func TestReportSizeBudget(t *testing.T) {
	if embeddedLib == nil {
		t.Skip("this build has no chart library (make web): the interactive report is not measured")
	}
	run, out := t.TempDir(), t.TempDir()
	writeSuite(t, run, 30)
	if _, err := Generate(Options{Dirs: []string{run}, Out: out}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report.html of a nine-test suite: %d bytes", st.Size())
	if st.Size() > 2<<20 {
		t.Errorf("report.html is %d bytes, over the 2 MB budget", st.Size())
	}
	page := readFile(t, filepath.Join(out, "report.html"))
	if strings.Contains(page, "<img ") || strings.Contains(page, staticNote) {
		t.Error("interactive report with static figures")
	}
	for _, l := range suiteLabels {
		id := testID("", l)
		if !strings.Contains(page, `<a class="sub" href="#`+id+`">`+l+`</a>`) || !strings.Contains(page, `<details class="zk-group test" id="`+id+`">`) {
			t.Errorf("test %s: no table-of-contents entry or section", l)
		}
		if !strings.Contains(page, `<a href="#`+id+`">`) {
			t.Errorf("test %s: no overview link to its section", l)
		}
	}
	htmlImages(t, page)
}

// TestReportStaticFallback: without the chart library report.html has the static SVG
// figures and says how to get charts; the library is found in an embedded directory
// only when make web put it there.
func TestReportStaticFallback(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "get", workers: 2, seconds: 4, slow: 1, runJSON: true})
	if _, err := Generate(Options{Dirs: []string{run}, Out: out, noLib: true}); err != nil {
		t.Fatal(err)
	}
	page := readFile(t, filepath.Join(out, "report.html"))
	if !strings.Contains(page, staticNote) || strings.Contains(page, "<div data-chart=") || strings.Contains(page, "var uPlot=") {
		t.Error("the static report does not say so, or has charts")
	}
	if imgs := htmlImages(t, page); len(imgs) < 10 {
		t.Errorf("static report: %d figures", len(imgs))
	}
	if loadWebLib(fstest.MapFS{"web/dist/README.md": {Data: []byte("x")}}) != nil {
		t.Error("a library found in a directory without it")
	}
	if loadWebLib(fstest.MapFS{"web/dist/uPlot.iife.min.js": {Data: []byte("var uPlot")}, "web/dist/uPlot.min.css": {Data: []byte(".u{}")}}) == nil {
		t.Error("the library not found")
	}
}

// TestChartDataEqualsDistributions: a latency chart's data is, per slot, the
// percentiles of every worker's window in it merged exactly, and each worker's own p99
// that of its window; in whole microseconds.
func TestChartDataEqualsDistributions(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "set_and_get", workers: 2, seconds: 6, slow: 1})
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	var ds []stats.Distribution
	for w := 1; w <= 2; w++ {
		d, err := stats.ReadDistributions(filepath.Join(run, fmt.Sprintf("set_and_get_ext_distrib_%d.jsonl", w)))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d...)
	}
	key := stats.Key{Method: "get", Name: "SetAndGet"}
	// Slots as long as the interval (1 s) from the earliest window's start.
	start := ds[0].Start
	for _, d := range ds {
		if d.Start.Before(start) {
			start = d.Start
		}
	}
	bySlot := map[string][]stats.Distribution{}
	worker := map[string]map[string]int64{}
	for _, d := range ds {
		if d.Key != key {
			continue
		}
		end := start.Add(time.Duration(int(d.End.Sub(start)/time.Second)+1) * time.Second)
		x := fmt.Sprintf("%.3f", float64(end.UnixNano())/1e9)
		bySlot[x] = append(bySlot[x], d)
		if worker[d.ClientID] == nil {
			worker[d.ClientID] = map[string]int64{}
		}
		worker[d.ClientID][x] = d.Summary.Percentile(99)
	}
	var spec *chartSpec
	page := readFile(t, filepath.Join(out, "report.html"))
	blocks := dataRE.FindAllStringSubmatch(page, -1)
	if embeddedLib == nil { // no charts in the page: the data they would have
		blocks = [][]string{{"", string(chartData(rep.figures()))}}
	}
	for _, m := range blocks {
		var ss []chartSpec
		dec := json.NewDecoder(strings.NewReader(m[1]))
		dec.UseNumber()
		if err := dec.Decode(&ss); err != nil {
			t.Fatal(err)
		}
		for i := range ss {
			if ss[i].ID == "set_and_get_SetAndGet_get_latency" {
				spec = &ss[i]
			}
		}
	}
	if spec == nil || !spec.US || spec.X != "time" {
		t.Fatalf("no latency chart of get in µs: %+v", spec)
	}
	checked, workers := 0, 0
	for _, s := range spec.S {
		for i, v := range s.V {
			x := spec.T[i].String()
			var want int64
			switch {
			case s.Worker != "":
				w, ok := worker[s.Worker][x]
				if !ok {
					t.Errorf("%s: a point at %s, no window of its worker", s.Name, x)
					continue
				}
				want = w
				workers++
			case strings.HasPrefix(s.Name, "p"):
				p := map[string]float64{"p50": 50, "p95": 95, "p99": 99, "p99.9": 99.9}[s.Name]
				want = stats.Merge(bySlot[x])[key].Percentile(p)
			}
			if v == nil {
				t.Errorf("%s: no value at %s", s.Name, x)
				continue
			}
			if got := v.(json.Number).String(); got != fmt.Sprint(want) {
				t.Errorf("%s at %s: %s µs, the distributions give %d", s.Name, x, got, want)
			}
			checked++
		}
	}
	if len(spec.T) != len(bySlot) || checked < 6*6 || workers != 2*6 {
		t.Errorf("%d slots (want %d), %d values checked, %d of workers", len(spec.T), len(bySlot), checked, workers)
	}
}

// TestStaticTitleFits: a figure's title longer than the plot is wrapped to its width.
func TestStaticTitleFits(t *testing.T) {
	sty := plot.New().Title.TextStyle
	long := strings.Repeat("Latency percentiles per window: task set \"exists_many\", op \"exists_negative_watch\" ", 2)
	got := wrapText(sty, long, figWidth)
	lines := strings.Split(got, "\n")
	if len(lines) < 2 {
		t.Fatalf("not wrapped: %q", got)
	}
	for _, l := range lines {
		if sty.Width(l) > figWidth {
			t.Errorf("line %q is %v wide, over %v", l, sty.Width(l), figWidth)
		}
	}
	if strings.Join(strings.Fields(got), " ") != strings.TrimSpace(long) {
		t.Errorf("wrapping lost words: %q", got)
	}
	f := &Figure{ID: "x", Title: long, YLabel: "ms", Series: []Series{{Name: strings.Repeat("n", 80), X: []float64{1, 2}, Y: []float64{1, 2}}}}
	if err := f.render(); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, "long title", f.SVG)
}

// TestReportMarksAndComparison: a run with a fault program has every fault and leader
// move in its time charts' data and a failover row in the overview; a comparison
// overlays the ensemble's figures too and states each change with its direction.
func TestReportMarksAndComparison(t *testing.T) {
	a, b, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeRun(t, a, genRun{label: "set_and_get", workers: 2, seconds: 6, slow: 1})
	write(t, filepath.Join(a, "set_and_get_faults.csv"), "Time,Action,Member,Role Before,Election (ms)\r\n"+
		t0.Add(3*time.Second).Format("2006-01-02T15:04:05.000Z")+",disable,1,leader,800\r\n")
	writeRun(t, b, genRun{label: "set_and_get", workers: 1, seconds: 5, slow: 1.5})
	rep, err := Generate(Options{Dirs: []string{a, b}, Labels: []string{"before", "after"}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	page := readFile(t, filepath.Join(out, "report.html"))
	imgs := htmlImages(t, page)
	for _, want := range []string{"Outstanding requests", "Failures per second", "Member state (3 leader/standalone, 2 follower, 1 observer/other, 0 not serving)"} {
		if imgs[want] < 2 { // the first run's own, and the overlay
			t.Errorf("figure %q: %d, want the run's and the comparison's", want, imgs[want])
		}
	}
	found := false
	for _, f := range rep.figures() {
		if f.ID == "r1_set_and_get_SetAndGet_get_latency" {
			s := f.spec()
			found = len(s.Fault) == 1 && len(s.Leader) == 1 && s.Fault[0].String() == fmt.Sprintf("%.3f", unix(t0.Add(3*time.Second)))
		}
	}
	if !found {
		t.Error("the latency chart lacks the fault and the leader move")
	}
	for _, want := range []string{`id="failover"`, "<td>disable</td>", `id="differences"`, "p50 +50% (worse)", "(+50%, worse)"} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("report.html lacks %q; changes %q", want, rep.Compare.changes())
		}
	}
}
