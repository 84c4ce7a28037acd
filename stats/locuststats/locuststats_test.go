package locuststats

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/pyfmt"

	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/internal/testenv"
)

func fp(f float64) *float64 { return &f }

// TestPercentilesWorkedExample is §5.4's observed example: one request in each of the
// buckets 3, 48, 140, 160, 1000, 1200 and 16000.
func TestPercentilesWorkedExample(t *testing.T) {
	s := New(func() time.Time { return time.Unix(1795323660, 0) })
	rt := map[int64]int64{3: 1, 48: 1, 140: 1, 160: 1, 1000: 1, 1200: 1, 16000: 1}
	e := wire.StatsEntry{Name: "/foo", Method: "GET", LastRequestTimestamp: fp(1795323665.5), StartTime: 1795323655,
		NumRequests: 7, TotalResponseTime: 3.2 + 47.5 + 144 + 155 + 1049 + 1234 + 15500, MaxResponseTime: 15500,
		MinResponseTime: fp(3.2), TotalContentLength: 700, ResponseTimes: rt,
		NumReqsPerSec: map[int64]int64{1795323660: 7}, NumFailPerSec: map[int64]int64{}}
	s.Add(&wire.StatsReport{Stats: []wire.StatsEntry{e}, StatsTotal: e})
	var got []int64
	for _, p := range Percentiles {
		got = append(got, s.total.Percentile(p))
	}
	want := []int64{160, 1000, 1200, 1200, 16000, 16000, 16000, 16000, 16000, 16000, 16000}
	if !slicesEqual(got, want) {
		t.Errorf("percentiles %v, want %v", got, want)
	}
	if m := s.total.MedianResponseTime().String(); m != "160" {
		t.Errorf("median %s, want 160", m)
	}
	if m := s.total.MaxResponseTime.String(); m != "15500.0" {
		t.Errorf("max %s, want 15500.0", m)
	}
	// One request: the median bucket (3) is clamped to the float min.
	one := wire.StatsEntry{Name: "/x", Method: "GET", LastRequestTimestamp: fp(1795323665.5), StartTime: 1795323655,
		NumRequests: 1, TotalResponseTime: 3.2, MaxResponseTime: 3.2, MinResponseTime: fp(3.2),
		ResponseTimes: map[int64]int64{3: 1}}
	s2 := New(nil)
	s2.Add(&wire.StatsReport{Stats: []wire.StatsEntry{one}, StatsTotal: one})
	if m := s2.total.MedianResponseTime().String(); m != "3.2" {
		t.Errorf("clamped median %s, want 3.2", m)
	}
}

func slicesEqual(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPyFloatMatchesPython compares pyfmt.Float with /usr/bin/python3's str(float).
func TestPyFloatMatchesPython(t *testing.T) {
	if _, err := os.Stat(testenv.PythonPath); err != nil {
		t.Skipf("no %s: %v", testenv.PythonPath, err)
	}
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.5, 1.5, 2.5, 15500, 3054.988235294117, 9.518555518699724,
		1e15, 1e16, 1.5e16, 123456789012345678, 1e-4, 1e-5, 0.00012345, 1.5e-5, 1e100, 1e-100, 5e-324,
		math.MaxFloat64, 1.0 / 3, 2.0 / 3, 100.0, 1234567.125, 0.018445, 25181.739894416303,
		math.Inf(1), math.Inf(-1), math.NaN(), 9999999999999998, 0.0001, 0.00009999}
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		vals = append(vals, math.Float64frombits(r.Uint64()), r.Float64()*math.Pow(10, float64(r.IntN(40)-20)))
	}
	bits := make([]uint64, len(vals))
	for i, v := range vals {
		bits[i] = math.Float64bits(v)
	}
	var want []string
	testenv.RunPython(t, 30*time.Second, `
import json, struct, sys
print(json.dumps([str(struct.unpack("<d", struct.pack("<Q", b))[0]) for b in json.load(sys.stdin)]))
`, bits, &want)
	for i, v := range vals {
		if got := pyfmt.Float(v); got != want[i] {
			t.Errorf("pyfmt.Float(%v) = %q, Python says %q", v, got, want[i])
		}
	}
}

// TestCSVWriterQuoting checks Python csv.writer's minimal quoting and CRLF.
func TestCSVWriterQuoting(t *testing.T) {
	var b bytes.Buffer
	writeRow(&b, []string{"a", "b,c", `say "hi"`, " lead", "x\ny", ""})
	want := "a,\"b,c\",\"say \"\"hi\"\"\", lead,\"x\ny\",\r\n"
	if b.String() != want {
		t.Errorf("row %q, want %q", b.String(), want)
	}
}

// synthReports builds a deterministic run: reports from one worker, one per second,
// with three request names (one needing CSV quoting), errors and gaps.
func synthReports(base float64) []wire.StatsReport {
	r := rand.New(rand.NewPCG(7, 9))
	names := []struct{ name, method string }{{"/a", "GET"}, {"/b", "POST"}, {`/q,"x"`, "GET"}}
	var out []wire.StatsReport
	for k := range 25 {
		start := base + float64(k)
		rep := wire.StatsReport{Errors: map[string]wire.StatsError{}}
		total := wire.StatsEntry{Name: "Aggregated", StartTime: start,
			ResponseTimes: map[int64]int64{}, NumReqsPerSec: map[int64]int64{}, NumFailPerSec: map[int64]int64{}}
		for i, nm := range names {
			if (k+i)%7 == 3 { // gaps: some names idle in some intervals
				continue
			}
			e := wire.StatsEntry{Name: nm.name, Method: nm.method, StartTime: start,
				ResponseTimes: map[int64]int64{}, NumReqsPerSec: map[int64]int64{}, NumFailPerSec: map[int64]int64{}}
			n := 1 + r.IntN(30)
			for range n {
				var ms float64
				switch r.IntN(4) {
				case 0:
					ms = float64(r.IntN(100)) + 0.25
				case 1:
					ms = float64(100 + r.IntN(900))
				case 2:
					ms = r.Float64() * 3000
				default:
					ms = float64(int(r.Float64()*20000*10)) / 10
				}
				bucket := bucketOf(ms)
				sec := int64(start) + int64(r.IntN(2))
				ts := float64(sec) + 0.5
				for _, x := range []*wire.StatsEntry{&e, &total} {
					x.NumRequests++
					x.TotalResponseTime += ms
					x.MaxResponseTime = max(x.MaxResponseTime, ms)
					if x.MinResponseTime == nil || ms < *x.MinResponseTime {
						x.MinResponseTime = fp(ms)
					}
					x.TotalContentLength += int64(r.IntN(500))
					x.ResponseTimes[bucket]++
					x.NumReqsPerSec[sec]++
					if x.LastRequestTimestamp == nil || ts > *x.LastRequestTimestamp {
						x.LastRequestTimestamp = fp(ts)
					}
				}
				if r.IntN(10) == 0 {
					text := []string{`HTTPError('500 Server Error: boom')`, `ConnectionError("it's down")`, `CatchResponseError('bad')`}[r.IntN(3)]
					key := wire.ErrorKey(nm.method, nm.name, text)
					er := rep.Errors[key]
					er.Method, er.Name, er.Error = nm.method, nm.name, text
					er.Occurrences++
					rep.Errors[key] = er
					e.NumFailures++
					e.NumFailPerSec[sec]++
					total.NumFailures++
					total.NumFailPerSec[sec]++
				}
			}
			rep.Stats = append(rep.Stats, e)
		}
		rep.StatsTotal = total
		rep.UserCount = 1 + k%4
		out = append(out, rep)
	}
	return out
}

func bucketOf(ms float64) int64 {
	m := 1.0
	switch {
	case ms >= 10000:
		m = 1000
	case ms >= 1000:
		m = 100
	case ms >= 100:
		m = 10
	}
	return int64(math.RoundToEven(ms/m) * m)
}

// jsonEntry is a wire.StatsEntry as the Python side expects it (maps keyed by text).
func jsonEntry(e wire.StatsEntry) map[string]any {
	im := func(m map[int64]int64) map[string]int64 {
		out := map[string]int64{}
		for k, v := range m {
			out[itoa(k)] = v
		}
		return out
	}
	return map[string]any{"name": e.Name, "method": e.Method, "last_request_timestamp": e.LastRequestTimestamp,
		"start_time": e.StartTime, "num_requests": e.NumRequests, "num_none_requests": e.NumNoneRequests,
		"num_failures": e.NumFailures, "total_response_time": e.TotalResponseTime,
		"max_response_time": e.MaxResponseTime, "min_response_time": e.MinResponseTime,
		"total_content_length": e.TotalContentLength, "response_times": im(e.ResponseTimes),
		"num_reqs_per_sec": im(e.NumReqsPerSec), "num_fail_per_sec": im(e.NumFailPerSec)}
}

// locustPy replays the reports through Locust 2.12.1's own master-side code (the
// worker_report listener, StatsCSVFileWriter's row writers, the console summaries)
// with a fake clock, and answers with the four files and the console text.
const locustPy = `
import csv, io, json, sys, types
try:
    import locust.stats as ls
    from locust.event import Events
except Exception as e:
    print("cannot import locust: %s" % e, file=sys.stderr); sys.exit(77)
req = json.load(sys.stdin)
clock = [req["t0"]]
ls.time = types.SimpleNamespace(time=lambda: clock[0])
ls.STATS_NAME_WIDTH = 80
def fix(e):
    for k in ("last_request_timestamp", "start_time", "total_response_time", "max_response_time", "min_response_time"):
        if e[k] is not None: e[k] = float(e[k])
    for k in ("response_times", "num_reqs_per_sec", "num_fail_per_sec"):
        e[k] = {int(a): b for a, b in e[k].items()}
    return e
stats = ls.RequestStats()
stats.clear_all()
events = Events()
ls.setup_distributed_stats_event_listeners(events, stats)
runner = types.SimpleNamespace(user_count=0, exceptions={})
env = types.SimpleNamespace(stats=stats, runner=runner)
out = {}
w = ls.StatsCSVFileWriter.__new__(ls.StatsCSVFileWriter)
ls.StatsCSV.__init__(w, env, ls.PERCENTILES_TO_REPORT)
w.full_history = req["full"]
hist = io.StringIO(newline="")
hw = csv.writer(hist)
hw.writerow(["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"] + ls.get_readable_percentiles(ls.PERCENTILES_TO_REPORT) + ["Total Request Count", "Total Failure Count", "Total Median Response Time", "Total Average Response Time", "Total Min Response Time", "Total Max Response Time", "Total Average Content Size"])
console = []
for step in req["steps"]:
    clock[0] = step["now"]
    rep = step["report"]
    rep["stats"] = [fix(e) for e in rep["stats"] or []]
    rep["stats_total"] = fix(rep["stats_total"])
    events.worker_report.fire(client_id="w", data=rep)
    for x in step["exceptions"] or []:
        key = hash(x["traceback"])
        row = runner.exceptions.setdefault(key, {"count": 0, "msg": x["msg"], "traceback": x["traceback"], "nodes": set()})
        row["count"] += 1
        row["nodes"].add("local")
    runner.user_count = rep["user_count"]
    w._stats_history_data_rows(hw, clock[0])
    console.append("\n".join(ls.get_stats_summary(stats, True)) + "\n\n")
def dump(f):
    s = io.StringIO(newline="")
    f(csv.writer(s))
    return s.getvalue()
out["stats"] = dump(w.requests_csv)
out["failures"] = dump(w.failures_csv)
out["exceptions"] = dump(w.exceptions_csv)
out["history"] = hist.getvalue()
out["console"] = "".join(console)
out["summary"] = "\n".join(ls.get_stats_summary(stats, False)) + "\n\n" + "\n".join(ls.get_percentile_stats_summary(stats)) + "\n\n" + ("\n".join(ls.get_error_report_summary(stats)) + "\n" if stats.errors else "")
print(json.dumps(out))
`

// TestMatchesLocustMaster feeds the same worker reports to Stats and to Locust
// 2.12.1's master-side code and compares the four CSV files and the console tables
// byte for byte.
func TestMatchesLocustMaster(t *testing.T) {
	testenv.SkipWithoutPythonLocust(t)
	for _, full := range []bool{false, true} {
		name := "default"
		if full {
			name = "full-history"
		}
		t.Run(name, func(t *testing.T) {
			base := 1795320000.0
			now := base - 5
			s := New(func() time.Time { return time.Unix(0, int64(now*1e9)) })
			dir := t.TempDir()
			c, err := CreateCSV(filepath.Join(dir, "run"), full)
			if err != nil {
				t.Fatal(err)
			}
			var steps []map[string]any
			var console bytes.Buffer
			for k, rep := range synthReports(base) {
				now = base + float64(k) + 1.25
				var excs []map[string]string
				if k%6 == 2 {
					ex := wire.Exception{Msg: "boom, \"quoted\"", Traceback: "Traceback:\n  task " + itoa(int64(k%12))}
					s.AddException(ex, "local")
					excs = append(excs, map[string]string{"msg": ex.Msg, "traceback": ex.Traceback})
				}
				jr := map[string]any{"user_count": rep.UserCount, "user_classes_count": map[string]int{}}
				var js []map[string]any
				for _, e := range rep.Stats {
					js = append(js, jsonEntry(e))
				}
				jr["stats"], jr["stats_total"] = js, jsonEntry(rep.StatsTotal)
				errs := map[string]any{}
				for k, e := range rep.Errors {
					errs[k] = map[string]any{"name": e.Name, "method": e.Method, "error": e.Error, "occurrences": e.Occurrences}
				}
				jr["errors"] = errs
				steps = append(steps, map[string]any{"now": now, "report": jr, "exceptions": excs})
				s.Add(&rep)
				if err := c.Write(s, rep.UserCount, time.Unix(0, int64(now*1e9))); err != nil {
					t.Fatal(err)
				}
				s.WriteStats(&console, true)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			var want map[string]string
			testenv.RunPython(t, time.Minute, locustPy, map[string]any{"t0": base - 5, "full": full, "steps": steps}, &want)
			for _, kind := range []string{"failures", "exceptions"} { // the comparison must see rows
				if strings.Count(want[kind], "\r\n") < 3 {
					t.Fatalf("Python's %s has too few rows to compare:\n%s", kind, want[kind])
				}
			}
			for _, kind := range []string{"stats", "history", "failures", "exceptions"} {
				file := map[string]string{"stats": "run_stats.csv", "history": "run_stats_history.csv",
					"failures": "run_failures.csv", "exceptions": "run_exceptions.csv"}[kind]
				got, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				compareText(t, file, string(got), want[kind])
			}
			compareText(t, "console tables", console.String(), want["console"])
			var sum bytes.Buffer
			s.WriteSummary(&sum)
			compareText(t, "summary", sum.String(), want["summary"])
		})
	}
}

func compareText(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("%s: line %d differs:\n got: %q\nwant: %q", what, i+1, g, w)
			return
		}
	}
	t.Errorf("%s differs", what)
}

// TestWriteExceptions: the exception report counts each distinct exception (by
// traceback) with the first line of its message; nothing without exceptions.
func TestWriteExceptions(t *testing.T) {
	s := New(nil)
	var b strings.Builder
	if err := s.WriteExceptions(&b); err != nil || b.Len() != 0 {
		t.Fatalf("no exceptions: wrote %q, %v", b.String(), err)
	}
	for i := range 3 {
		if isNew := s.AddException(wire.Exception{Msg: "boom\nsecond line", Traceback: "tb1"}, "w1"); isNew != (i == 0) {
			t.Errorf("AddException #%d: new = %v", i, isNew)
		}
	}
	s.AddException(wire.Exception{Msg: "other", Traceback: "tb2"}, "w2")
	if err := s.WriteExceptions(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Exception report\n", "\n3                  boom ", "\n1                  other "} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "second line") {
		t.Errorf("report shows more than a message's first line:\n%s", out)
	}
}
