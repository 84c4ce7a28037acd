package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv"
	"github.com/zkload/zkload/record"
	"github.com/zkload/zkload/stats"
)

// TestSuiteReport runs scripts/suite.sh for one short test, which ends by writing
// OUT/report/report.html, then `zkload report` on two runs (the second with a CSV cut
// short and a distribution file missing) for a comparison.
func TestSuiteReport(t *testing.T) {
	testenv.RequireLocust(t)
	if err := zkenv.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	t.Parallel()
	out := t.TempDir()
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "get"},
		Env: []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "RUN_TIME=4s", "USERS=4", "SPAWN_RATE=4", "WORKERS=2", "ZK_LOCUST_HOSTS="},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "suite.log"),
	})
	if code := p.Wait(120 * time.Second); code != 0 {
		t.Fatalf("suite.sh get: exit %d\n%s", code, p.Log())
	}
	page := reportPage(t, filepath.Join(out, "report"))
	for _, want := range []string{"Tests side by side", "<td>get</td><td>get</td><td>get</td>", "Worst tail: get get",
		"get: ensemble", "Every ensemble member answered every poll.", "Ensemble health",
		// run.json, which suite.sh writes without REPORT_DIR too: settings and versions.
		"<th>setting workers</th><td class=\"l\">2</td>", "<th>zkload version</th>"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(page, "Problems") {
		t.Errorf("the suite's run has problems:\n%s", p.Log())
	}
	checkInBrowser(t, filepath.Join(out, "report", "report.html"), out, "get")

	// A damaged copy of the run, compared with the original.
	damaged := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(out, "get*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a directory
		}
		if strings.HasSuffix(f, "_ext_distrib_2.jsonl") {
			continue
		}
		if strings.HasSuffix(f, "_ext_stats_1.csv") {
			// cut in the middle of a row, as a killed worker would leave it
			cut := strings.LastIndexByte(string(b[:len(b)*2/3]), '\n') + 20
			b = b[:cut]
		}
		if err := os.WriteFile(filepath.Join(damaged, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmp := filepath.Join(t.TempDir(), "cmp")
	log := runZkload(t, 0, "report", "--out", cmp, "--label", "full", "--label", "damaged", out, damaged)
	if !strings.Contains(log, "get_ext_stats_1.csv: 1 truncated row(s) ignored") {
		t.Errorf("zkload report does not say what was damaged:\n%s", log)
	}
	page = reportPage(t, cmp)
	for _, want := range []string{"Comparison (against full)", "Problems", "get_ext_stats_1.csv: 1 truncated row(s) ignored"} {
		if !strings.Contains(page, want) {
			t.Errorf("comparison report lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(cmp, "report.md")); err != nil {
		t.Error(err)
	}
	runZkload(t, 2, "report")
	runZkload(t, 2, "report", "--label", "a", out, damaged)
}

// reportPage reads DIR/report.html and checks that every figure of report.md exists.
func reportPage(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	figs := regexp.MustCompile(`\]\((figures/[^)]+)\)`).FindAllStringSubmatch(string(md), -1)
	if len(figs) == 0 {
		t.Error("report.md has no figures")
	}
	for _, f := range figs {
		if _, err := os.Stat(filepath.Join(dir, f[1])); err != nil {
			t.Errorf("report.md: %v", err)
		}
	}
	// report.md has the overview's figure besides every figure of report.html (an
	// interactive chart, or an image without the chart library).
	if n := strings.Count(string(b), "<img ") + strings.Count(string(b), "<div data-chart="); n != len(figs)-1 {
		t.Errorf("report.html has %d figures, report.md %d and the overview", n, len(figs)-1)
	}
	return string(b)
}

// checkInBrowser opens the report in headless Chromium through its DevTools protocol
// (reports/web/browsertest/check.mjs with puppeteer-core; scripts/setup.sh --test
// installs Chromium, Node.js and the npm packages): it follows the table of contents to
// the test, hovers a point of the operation's latency chart, whose legend must show the
// value of that worker's extended-statistics CSV for that window, zooms the chart (the
// test's other time axes follow), and finds no console error and no request leaving the
// file. The screenshots it takes are kept with the test's logs (ZKLOAD_REPORT_SHOTS=DIR
// keeps them there: doc/report-*.png are taken so).
func checkInBrowser(t *testing.T, report, runDir, test string) {
	chromium := requireChromium(t)
	node, script := browserScript(t, "check.mjs")
	shots := os.Getenv("ZKLOAD_REPORT_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	b := testenv.RunBrowserScript(t, 90*time.Second, node, chromium, script, report, "t-"+test, shots)
	var res struct {
		Errors, Outside []string
		Requests        int
		Interactive     bool
		Failure         string
		LoadMS          int `json:"load_ms"`
		Hover           struct {
			Worker, Series, Shown string
			X                     float64
			Slots                 []float64
		}
		Zoom struct {
			Before, After []float64
			Others        [][]float64
		}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	t.Logf("browser: loaded in %d ms, %d requests, hovered %s at %.3f: %s", res.LoadMS, res.Requests, res.Hover.Series, res.Hover.X, res.Hover.Shown)
	if !res.Interactive {
		t.Fatalf("report.html has static figures only: the zkload under test was built without the chart library (make web)")
	}
	if res.Failure != "" {
		t.Fatalf("in the browser: %s", res.Failure)
	}
	for _, e := range res.Errors {
		t.Errorf("console error: %s", e)
	}
	for _, u := range res.Outside {
		t.Errorf("a request left the file: %s", u)
	}
	// The hovered value is the worker's window's p99 in its extended-statistics CSV: the
	// row of that worker and operation whose window ended in the slot the point shows.
	h := res.Hover
	if h.Worker == "" {
		t.Fatalf("hovered %q, not a worker's p99 (one worker?)", h.Series)
	}
	width := 1.0
	for i := 1; i < len(h.Slots); i++ {
		if d := h.Slots[i] - h.Slots[i-1]; d > 0 && d < width {
			width = d
		}
	}
	files, _ := filepath.Glob(filepath.Join(runDir, test+"_ext_stats_*.csv"))
	var want []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil || len(rows) < 2 {
			t.Fatalf("%s: %v", f, err)
		}
		col := map[string]int{}
		for i, c := range rows[0] {
			col[c] = i
		}
		for _, r := range rows[1:] {
			ts, err := time.Parse("2006-01-02T15:04:05.000000Z", r[col["timestamp"]])
			// The operation's row: not the Total (no method), nor a value series (a
			// user's success gaps, "~success_gap:get").
			if err != nil || r[col["client_id"]] != h.Worker || r[col["method"]] == "" || record.IsValue(r[col["method"]]) {
				continue
			}
			end := float64(ts.UnixNano()) / 1e9
			if end >= h.X-width-0.001 && end < h.X+0.001 {
				want = append(want, r[col["99%"]])
			}
		}
	}
	shown, err := strconv.ParseFloat(h.Shown, 64)
	if len(want) == 0 || err != nil {
		t.Fatalf("hovered %q = %q at %.3f: want a CSV row of worker %s in that window, found %q", h.Series, h.Shown, h.X, h.Worker, want)
	}
	// A worker's window is one slot's point; two of its windows may end in one slot
	// (a short last window, a late tick), and the point is then their histograms merged
	// (the distribution file's windows of that slot), or one of them.
	match := false
	for _, w := range want {
		if v, _ := strconv.ParseFloat(w, 64); v == shown {
			match = true
		}
	}
	// Which windows a slot holds depends on where the report's slots begin (the earliest
	// window's start), which the page does not say: under load a window may end within a
	// millisecond of a slot's edge, or two of a worker's windows share a slot (the point
	// is then their histograms merged). So the point must be the p99 of this worker's
	// windows of the operation around it: one window, or two or three in a row merged,
	// from its distribution file.
	if !match {
		var near []*stats.Distribution
		dfiles, _ := filepath.Glob(filepath.Join(runDir, test+"_ext_distrib_*.jsonl"))
		for _, f := range dfiles {
			ds, err := stats.ReadDistributions(f)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			for i := range ds {
				d := &ds[i]
				end := float64(d.End.UnixNano()) / 1e9
				if d.ClientID == h.Worker && d.Method != "" && !d.Key.IsValue() && end >= h.X-2*width-0.001 && end < h.X+width+0.001 {
					near = append(near, d)
				}
			}
		}
		sort.Slice(near, func(a, b int) bool { return near[a].End.Before(near[b].End) })
		for a := range near {
			merged := stats.NewSummary()
			for b := a; b < len(near) && b < a+3; b++ {
				merged.Add(&near[b].Summary)
				p99 := float64(merged.Percentile(99)) / 1000
				want = append(want, fmt.Sprintf("%.3f (windows %d-%d)", p99, a, b))
				if merged.Requests > 0 && math.Abs(p99-shown) < 0.0005 {
					match = true
				}
			}
		}
	}
	if !match {
		t.Errorf("hovered %q shows %s ms at %.3f; the worker's ext_stats CSV has %q in that slot", h.Series, h.Shown, h.X, want)
	}
	z := res.Zoom
	if len(z.Before) != 2 || len(z.After) != 2 || !(z.After[0] > z.Before[0] && z.After[1] < z.Before[1]) {
		t.Errorf("the drag did not zoom: x range %v before, %v after", z.Before, z.After)
	}
	for _, o := range z.Others {
		if len(o) != 2 || o[0] != z.After[0] || o[1] != z.After[1] {
			t.Errorf("a time axis of the test did not follow the zoom: %v, want %v", o, z.After)
		}
	}
	if len(z.Others) == 0 {
		t.Error("no other time axis in the test")
	}
}
