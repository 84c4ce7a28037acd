package reports

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/stats"
)

var (
	imgRE   = regexp.MustCompile(`<img alt="([^"]*)" src="([^"]*)">`)
	chartRE = regexp.MustCompile(`<div data-chart="([^"]*)" title="([^"]*)"></div>`)
	dataRE  = regexp.MustCompile(`(?s)<script type="application/json" class="zk-data">(.*?)</script>`)
)

// checkSVG fails unless b is a well-formed SVG document.
func checkSVG(t *testing.T, name string, b []byte) {
	t.Helper()
	if !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("%s: not SVG", name)
		return
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Errorf("%s: malformed SVG: %v", name, err)
			return
		}
	}
}

// htmlImages returns report.html's images by alt text, checking that every one is an
// inline, well-formed SVG.
func htmlImages(t *testing.T, page string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range imgRE.FindAllStringSubmatch(page, -1) {
		out[m[1]]++
		src := html.UnescapeString(m[2])
		const pfx = "data:image/svg+xml;base64,"
		if !strings.HasPrefix(src, pfx) {
			t.Errorf("image %q is not inline: %.60s", m[1], src)
			continue
		}
		b, err := base64.StdEncoding.DecodeString(src[len(pfx):])
		if err != nil {
			t.Errorf("image %q: %v", m[1], err)
			continue
		}
		checkSVG(t, m[1], b)
	}
	// Interactive charts: each placeholder has its data in a zk-data block.
	specs := map[string]chartSpec{}
	for _, m := range dataRE.FindAllStringSubmatch(page, -1) {
		var ss []chartSpec
		if err := json.Unmarshal([]byte(m[1]), &ss); err != nil {
			t.Errorf("chart data: %v", err)
		}
		for _, s := range ss {
			specs[s.ID] = s
		}
	}
	for _, m := range chartRE.FindAllStringSubmatch(page, -1) {
		out[m[2]]++
		if s, ok := specs[m[1]]; !ok || len(s.T) == 0 || len(s.S) == 0 {
			t.Errorf("chart %q (%s) has no data", m[2], m[1])
		}
	}
	// SVG namespaces are fine; a src or href to the network would be a fetch.
	for _, l := range regexp.MustCompile(`(src|href)="(https?:)?//[^"]*"`).FindAllString(page, -1) {
		t.Errorf("network reference in report.html: %s", l)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReportScheduleLag: an open loop's schedule lag in the extended statistics is
// shown as a value (its table, a verdict), and counted in no request count or rate:
// the Total is the requests', and the lag gets no figures as an operation would.
func TestReportScheduleLag(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "get", workers: 2, seconds: 4, slow: 1, lag: true})
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	rr := rep.Runs[0]
	for _, r := range rr.Summary {
		if r.Key.IsValue() {
			t.Errorf("summary row for a value: %+v", r)
		}
		if r.Key.IsTotal() && r.Requests != 2*4*1000 {
			t.Errorf("Total %d requests, want the 8000 requests only", r.Requests)
		}
	}
	if len(rr.Values) != 1 || rr.Values[0].Requests != 2*4*10 || rr.Values[0].Max != 10 {
		t.Fatalf("values %+v, want the 80 late starts up to 10 ms", rr.Values)
	}
	html := readFile(t, filepath.Join(out, "report.html"))
	md := readFile(t, filepath.Join(out, "report.md"))
	row := "<td>get</td><td>SetAndGet</td><td>schedule_lag</td><td>80</td>"
	if !strings.Contains(html, row) || !strings.Contains(md, `| get | SetAndGet | schedule\_lag | 80 |`) {
		t.Errorf("the values table lacks %q", row)
	}
	verdict := "Open loop behind its plan: SetAndGet (test get): 80 starts late (1.0 % of 8000), up to 10.000 ms."
	if !strings.Contains(html, verdict) {
		t.Errorf("report.html lacks the verdict %q", verdict)
	}
	for alt := range htmlImages(t, html) {
		if strings.Contains(alt, "schedule_lag") {
			t.Errorf("a figure for the schedule lag as an operation: %q", alt)
		}
	}
}

// TestReportSingleRun: a suite-layout run gives a report with the summary table
// (exact merged percentiles), verdicts, a latency plot per operation and the ensemble's
// figures, in report.html (inline) and report.md (files).
func TestReportSingleRun(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "set_and_get", workers: 2, seconds: 6, slow: 1})
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	html := readFile(t, filepath.Join(out, "report.html"))
	md := readFile(t, filepath.Join(out, "report.md"))

	// The summary's percentiles are those of the distributions merged across workers.
	var ds []stats.Distribution
	for w := 1; w <= 2; w++ {
		d, err := stats.ReadDistributions(filepath.Join(run, "set_and_get_ext_distrib_"+strconv.Itoa(w)+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d...)
	}
	get := stats.Merge(ds)[stats.Key{Method: "get", Name: "SetAndGet"}]
	row := "<td>set_and_get</td><td>SetAndGet</td><td>get</td><td>" + itoa(get.Requests) + "</td><td>0</td>"
	if !strings.Contains(html, row) {
		t.Errorf("report.html lacks summary row %q", row)
	}
	for _, p := range []float64{50, 90, 99, 99.9} {
		want := fmtMS(usMS(get.Percentile(p)))
		if !strings.Contains(html, "<td>"+want+"</td>") || !strings.Contains(md, "| "+want+" |") {
			t.Errorf("p%v = %s ms: not in the summary tables", p, want)
		}
	}
	for _, want := range []string{
		"Worst tail: SetAndGet", "Failures: SetAndGet set", "Member zk1:2181 stopped serving",
		"The leader moved 1 time(s)", "<th>duration</th>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	imgs := htmlImages(t, html)
	for _, want := range []string{
		`Latency percentiles per window: task set &#34;SetAndGet&#34;, op &#34;get&#34;`,
		`Latency percentiles per window: Total`,
		`Requests per second: task set &#34;SetAndGet&#34;, op &#34;set&#34;`,
		`Errors per second by type: task set &#34;SetAndGet&#34;, op &#34;set&#34;`,
		`Latency distribution (all workers merged): Total`,
		"Users", "Outstanding requests", "Connections", "Watches", "Packets per second (received solid, sent dotted)",
		"Server latency (windowed mean: read solid, update dotted)",
	} {
		if imgs[want] == 0 {
			t.Errorf("report.html has no figure %q; has %v", want, imgs)
		}
	}
	// report.md points at figure files that exist and are SVG.
	mdImgs := regexp.MustCompile(`!\[[^\]]*\]\((figures/[^)]+\.svg)\)`).FindAllStringSubmatch(md, -1)
	if len(mdImgs) != len(rep.figures())+1 || len(mdImgs) < 10 {
		t.Errorf("report.md has %d figures, want %d and the overview", len(mdImgs), len(rep.figures()))
	}
	for _, m := range mdImgs {
		checkSVG(t, m[1], []byte(readFile(t, filepath.Join(out, m[1]))))
	}
	if strings.Contains(html, "Problems") {
		t.Errorf("a complete run reports problems:\n%v", rep.Runs[0].problems())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestReportMissingAndTruncated: a run without distributions, with a cut stats CSV and
// an empty metrics file still gives a report, which says what is missing.
func TestReportMissingAndTruncated(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "get", workers: 2, seconds: 4, slow: 1})
	for _, f := range []string{"get_ext_distrib_1.jsonl", "get_ext_distrib_2.jsonl"} {
		if err := os.Remove(filepath.Join(run, f)); err != nil {
			t.Fatal(err)
		}
	}
	cut := func(name string, keep int) {
		b := readFile(t, filepath.Join(run, name))
		write(t, filepath.Join(run, name), b[:keep])
	}
	cut("get_stats_history.csv", len(readFile(t, filepath.Join(run, "get_stats_history.csv")))-30)
	cut("get_ext_stats_1.csv", 40) // cut inside the header
	write(t, filepath.Join(run, "get_zk_metrics.csv"), "")
	if _, err := Generate(Options{Dirs: []string{run}, Out: out}); err != nil {
		t.Fatal(err)
	}
	html := readFile(t, filepath.Join(out, "report.html"))
	for _, want := range []string{
		"Problems", "missing: distributions", "get_stats_history.csv: 1 truncated row(s) ignored",
		"get_ext_stats_1.csv: no column", "get_zk_metrics.csv: empty file", "No ensemble metrics.",
		"No distribution files",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	imgs := htmlImages(t, html)
	if imgs["Latency percentiles (Locust, last ~10 s)"] == 0 {
		t.Errorf("no fallback latency figure from Locust's history: %v", imgs)
	}
	// Locust's summary (ms buckets) stands in for the distributions.
	if !strings.Contains(html, "<td>SetAndGet</td><td>get</td>") {
		t.Error("no summary row from Locust's stats")
	}
}

// TestReportEmptyDir: a directory without any run file, or with only garbage, or a
// missing one, is an *InputError naming it and what was wanted, and nothing is written.
func TestReportEmptyDir(t *testing.T) {
	empty, garbage := t.TempDir(), t.TempDir()
	write(t, filepath.Join(garbage, "notes.txt"), "not a run\n")
	write(t, filepath.Join(garbage, "get_stats.csv"), "\x00\x01garbage\nmore,garbage\n")
	write(t, filepath.Join(garbage, "get_ext_distrib_1.jsonl"), "{not json\n")
	write(t, filepath.Join(garbage, "get_zk_metrics.csv"), "")
	for _, tc := range []struct {
		dirs []string
		want []string
	}{
		{[]string{empty}, []string{empty + ": no test files found (want <label>_stats.csv"}},
		{[]string{garbage}, []string{garbage + ": no usable data in its test files (get: get_stats.csv: no column \"Type\""}},
		{[]string{filepath.Join(empty, "nope")}, []string{filepath.Join(empty, "nope") + ": no such file or directory (want a run directory"}},
		{[]string{empty, garbage}, []string{"none of the 2 run directories holds anything to report: " + empty + ": no test files found", "; " + garbage + ": no usable data"}},
	} {
		out := filepath.Join(t.TempDir(), "report")
		_, err := Generate(Options{Dirs: tc.dirs, Out: out})
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Errorf("%v: error %v, want an *InputError", tc.dirs, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: error %q, want one line with %q", tc.dirs, err, w)
			}
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v: %s written (%v)", tc.dirs, out, err)
		}
	}
}

// TestReportLeavesOutUnusable: a usable run beside an empty one gives the usable run's
// report, which says in "Left out" (and a verdict) which directory was left out and why.
func TestReportLeavesOutUnusable(t *testing.T) {
	run, empty, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "get", workers: 1, seconds: 3, slow: 1})
	rep, err := Generate(Options{Dirs: []string{empty, run}, Labels: []string{"nothing", "good"}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 1 || rep.Runs[0].Run.Label != "good" || rep.Compare != nil {
		t.Fatalf("runs %d, compare %v: want the one usable run, no comparison", len(rep.Runs), rep.Compare)
	}
	if len(rep.Problems) != 1 || !strings.HasPrefix(rep.Problems[0], "left out: "+empty+": no test files found") {
		t.Errorf("problems %q", rep.Problems)
	}
	for _, name := range []string{"report.html", "report.md"} {
		page := readFile(t, filepath.Join(out, name))
		for _, want := range []string{"Left out", "1 of 2 run directories left out", "no test files found"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
}

// TestReportTruncatedDistribution: a distribution file whose last record was cut while
// being written keeps the records before it and says so, as the CSVs' cut rows do.
func TestReportTruncatedDistribution(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "get", workers: 2, seconds: 4, slow: 1})
	path := filepath.Join(run, "get_ext_distrib_1.jsonl")
	whole := readFile(t, path)
	records := strings.Count(whole, "\n")
	last := strings.LastIndexByte(whole[:len(whole)-1], '\n')
	write(t, path, whole[:last+1+(len(whole)-last)/2]) // the last record cut in half
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	test := rep.Runs[0].Run.Tests[0]
	if got := strings.Join(test.Problems, "; "); got != "get_ext_distrib_1.jsonl: 1 truncated record ignored" {
		t.Errorf("problems %q", got)
	}
	other, _ := stats.ReadDistributions(filepath.Join(run, "get_ext_distrib_2.jsonl"))
	if want := records - 1 + len(other); len(test.Distrib) != want {
		t.Errorf("%d distributions kept, want %d", len(test.Distrib), want)
	}
	if html := readFile(t, filepath.Join(out, "report.html")); !strings.Contains(html, "get_ext_distrib_1.jsonl: 1 truncated record ignored") {
		t.Error("report.html does not say the distribution file was cut")
	}
	// A whole file ending in its newline, or in blank lines, is not cut.
	write(t, path, whole+"\n\n")
	rep, err = Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Runs[0].Run.Tests[0].Problems; len(p) != 0 {
		t.Errorf("whole file: problems %q", p)
	}
}

// TestReportDirLayout: the `zkload run --report-dir` layout (locust_stats.csv,
// ext_stats_<i>.csv, run.json) is read, the test named after run.json.
func TestReportDirLayout(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "", workers: 1, seconds: 3, slow: 1, runJSON: true})
	if _, err := os.Stat(filepath.Join(run, "locust_stats.csv")); err != nil {
		t.Fatal(err)
	}
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Runs[0].Run.Tests); n != 1 || rep.Runs[0].Run.Tests[0].Label != "set_and_get" {
		t.Fatalf("tests %v", rep.Runs[0].Run.Tests)
	}
	html := readFile(t, filepath.Join(out, "report.html"))
	for _, want := range []string{"zkload version", "v0.test", "3.8.0", "zk1:2181,zk2:2181,zk3:2181", "setting users", "zkload run SetAndGet", "<td>set_and_get</td><td>SetAndGet</td><td>get</td>"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(html, "Problems") {
		t.Errorf("problems: %v", rep.Runs[0].problems())
	}
}

// TestReportComparison: two runs give overlaid figures and a table of differences.
func TestReportComparison(t *testing.T) {
	a, b, out := t.TempDir(), t.TempDir(), t.TempDir()
	writeRun(t, a, genRun{label: "set_and_get", workers: 2, seconds: 4, slow: 1})
	writeRun(t, b, genRun{label: "set_and_get", workers: 1, seconds: 5, slow: 1.5})
	rep, err := Generate(Options{Dirs: []string{a, b}, Labels: []string{"before", "after"}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Compare == nil || len(rep.Compare.Rows) != 3 {
		t.Fatalf("comparison %+v", rep.Compare)
	}
	page := readFile(t, filepath.Join(out, "report.html"))
	md := readFile(t, filepath.Join(out, "report.md"))
	for _, want := range []string{"Comparison (against before)", "Run before", "Run after", "(+50%, worse)"} {
		if !strings.Contains(html.UnescapeString(page), want) || !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	imgs := htmlImages(t, page)
	if imgs["Latency per window: p99 (solid), p50 (dotted)"] != 3 || imgs["Latency distribution (all workers merged)"] != 3 {
		t.Errorf("overlays: %v", imgs)
	}
	if _, err := Generate(Options{Dirs: []string{a, b}, Labels: []string{"one"}, Out: out}); err == nil {
		t.Error("one label for two runs is not an error")
	}
}

// TestReportDirLayoutSeveralClasses: a `zkload run --report-dir` run of several user
// classes is one test; files another run left in the directory are left out, and said so.
func TestReportDirLayoutSeveralClasses(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	writeRun(t, run, genRun{label: "", workers: 1, seconds: 3, slow: 1})
	write(t, filepath.Join(run, "run.json"), `{"command":["zkload","run","Get","Set"],"tests":["Get","Set"],"exit_code":0,"node_id":"x"}`)
	write(t, filepath.Join(run, "old_stats.csv"), "Type,Name,Request Count\r\n")
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if ts := rep.Runs[0].Run.Tests; len(ts) != 1 || ts[0].Label != "Get+Set" {
		t.Fatalf("tests %v", ts)
	}
	html := readFile(t, filepath.Join(out, "report.html"))
	for _, want := range []string{"files of tests not in run.json left out: old", "<th>exit code</th><td class=\"l\">0</td>"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

// TestReportSharedWorkerDir: the directory that workers sharing --report-dir fill
// (ext_stats_<tag>.csv, ext_distrib_<tag>.jsonl, zk_metrics_<tag>.csv, worker_<tag>.log
// and worker_<tag>.json per worker) is one test, with both workers' statistics and one
// set of ensemble figures from both pollers' files merged by time.
func TestReportSharedWorkerDir(t *testing.T) {
	run, out := t.TempDir(), t.TempDir()
	tags := []string{"host-a_0123abcd", "host-b_89abcdef"}
	const seconds = 6
	writeRun(t, run, genRun{seconds: seconds, slow: 1, tags: tags})
	rep, err := Generate(Options{Dirs: []string{run}, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	rr := rep.Runs[0]
	if len(rr.Run.Tests) != 1 || rr.Run.Tests[0].Label != "run" {
		t.Fatalf("tests %v, want one, \"run\"", rr.Run.Tests)
	}
	test := rr.Run.Tests[0]
	if ps := rr.problems(); len(ps) != 0 {
		t.Errorf("problems: %v", ps)
	}
	for k, want := range map[rundir.Kind]int{rundir.ExtStats: 2, rundir.ExtDistrib: 2, rundir.ZKMetrics: 2, rundir.Log: 2, rundir.WorkerInfo: 2} {
		if got := len(test.Files[k]); got != want {
			t.Errorf("%s files: %v, want %d", k, test.Files[k], want)
		}
	}

	// Both workers' distributions are merged in the summary.
	var ds []stats.Distribution
	for _, tag := range tags {
		d, err := stats.ReadDistributions(filepath.Join(run, "ext_distrib_"+tag+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d...)
	}
	want := stats.Merge(ds)[stats.TotalKey].Requests
	var total int64
	for _, r := range rr.Summary {
		if r.Key.IsTotal() {
			total = r.Requests
		}
	}
	if want != 2*seconds*1000 || total != want {
		t.Errorf("summary total %d requests, the two workers' distributions %d, want %d", total, want, 2*seconds*1000)
	}

	// Every row of both metrics files, in time order; each member's series holds both
	// pollers' polls.
	rows := 0
	for _, tag := range tags {
		rows += strings.Count(readFile(t, filepath.Join(run, "zk_metrics_"+tag+".csv")), "\n") - 1
	}
	if len(test.Metrics) != rows {
		t.Errorf("%d metric rows, the files hold %d", len(test.Metrics), rows)
	}
	for i := 1; i < len(test.Metrics); i++ {
		if test.Metrics[i].Time.Before(test.Metrics[i-1].Time) {
			t.Fatalf("metric rows out of time order at %d: %v after %v", i, test.Metrics[i].Time, test.Metrics[i-1].Time)
		}
	}
	a := rr.Analyses[0]
	if len(a.Members) != 3 {
		t.Fatalf("members %v, want 3", a.Members)
	}
	for _, m := range a.Members {
		if len(m.States) != 2*(seconds+1) {
			t.Errorf("%s: %d states, want one per poll of each poller, %d", m.HostPort, len(m.States), 2*(seconds+1))
		}
	}
	if len(a.LeaderMoves) != 1 {
		t.Errorf("leader moves %v, want 1", a.LeaderMoves)
	}
	html := readFile(t, filepath.Join(out, "report.html"))
	for _, want := range []string{"Member zk1:2181 stopped serving during run: 2 poll(s) failed", "The leader moved 1 time(s) during run"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	imgs := htmlImages(t, html)
	for _, fig := range []string{"Connections", "Outstanding requests", "Packets per second (received solid, sent dotted)"} {
		if imgs[fig] != 1 {
			t.Errorf("figure %q appears %d times, want once", fig, imgs[fig])
		}
	}
	if strings.Contains(html, "worker_") {
		t.Error("report.html names a worker file (a stray test?)")
	}
}
