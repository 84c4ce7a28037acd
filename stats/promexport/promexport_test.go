package promexport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zkload/zkload/internal/freeport"
	"github.com/zkload/zkload/stats"
	"github.com/zkload/zkload/stats/ensemble"
)

// TestBucketCounts: values at, below and above the bounds land in the buckets a
// Prometheus histogram's le means, exactly below 2048 µs and within the HDR bin above.
func TestBucketCounts(t *testing.T) {
	h := stats.NewHistogram()
	for _, us := range []int64{
		1, 50, // le 50µs
		51, 100, // le 100µs
		2047, 2048, 5000, // le 5ms (2047 is above 2ms)
		5003,                // in the HDR bin [5000, 5003]: le 5ms
		5004,                // the next bin: le 10ms
		60e6,                // le 60s
		stats.HighestMicros, // only +Inf
	} {
		if err := h.RecordValue(us); err != nil {
			t.Fatal(err)
		}
	}
	got := BucketCounts(h)
	want := []uint64{2, 4, 4, 4, 4, 4, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 10}
	if !slices.Equal(got, want) {
		t.Errorf("BucketCounts = %v\nwant            %v", got, want)
	}
	if b := Buckets(); len(b) != len(want) || b[0] != 50e-6 || b[6] != 0.005 || b[len(b)-1] != 60 {
		t.Errorf("Buckets() = %v", b)
	}
	if got := BucketCounts(stats.NewHistogram()); !slices.Equal(got, make([]uint64, len(want))) {
		t.Errorf("empty histogram: %v", got)
	}
}

// TestBucketCountsBins: the fast path's bins are the histogram's own: for values
// around every bound and across the range, it counts as the histogram's bars do.
func TestBucketCountsBins(t *testing.T) {
	h := stats.NewHistogram()
	for _, us := range bucketMicros {
		for d := int64(-40); d <= 40; d++ {
			h.RecordValue(us + d*us/1000) // within ±4% of the bound, in 0.1% steps
		}
	}
	for us := int64(1); us < stats.HighestMicros; us = us*11/10 + 1 {
		h.RecordValue(us)
	}
	fast, slow := BucketCounts(h), bucketCountsSlow(h)
	if !slices.Equal(fast, slow) {
		t.Errorf("from the counts %v\nfrom the bars   %v", fast, slow)
	}
	// Bin i starts at lowestAt(i) and bin i-1 ends just before it.
	for i := 1; lowestAt(i) <= stats.HighestMicros; i++ {
		v := lowestAt(i)
		if h.ValuesAreEquivalent(v-1, v) || !h.ValuesAreEquivalent(lowestAt(i-1), v-1) {
			t.Fatalf("bin %d starts at %d, bin %d at %d: not the histogram's bins", i-1, lowestAt(i-1), i, v)
		}
	}
}

func newCollector(t testing.TB) *stats.Collector {
	t.Helper()
	c, err := stats.New(stats.Options{Interval: time.Hour, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const requestsHelp = `# HELP zkload_requests_total Requests recorded, per request method and name (Locust's num_requests).
# TYPE zkload_requests_total counter
`

// TestExporterRequests: the counters and histograms are the collector's cumulative
// statistics as of the last interval; values stay out of the request metrics.
func TestExporterRequests(t *testing.T) {
	c := newCollector(t)
	reg, err := NewRegistry(Options{Stats: c, NodeID: "host_abc", Command: "worker", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Shard(0)
	r.Record("get", "/a", 40*time.Microsecond, 10, nil)
	r.Record("get", "/a", 120*time.Microsecond, 10, nil)
	r.Record("get", "/a", 3*time.Millisecond, 10, errors.New("boom"))
	c.Shard(1).Record("set", "/b", 70*time.Second, 0, nil)
	r.Record("~schedule_lag", "/a", 10*time.Millisecond, 0, nil)

	// Nothing before the interval ends: a scrape reads ended intervals only.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(requestsHelp), "zkload_requests_total"); err != nil {
		t.Errorf("before the first interval: %v", err)
	}
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}
	want := requestsHelp + `zkload_requests_total{method="get",name="/a"} 3
zkload_requests_total{method="set",name="/b"} 1
# HELP zkload_request_failures_total Failed requests recorded, per request method and name (Locust's num_failures).
# TYPE zkload_request_failures_total counter
zkload_request_failures_total{method="get",name="/a"} 1
zkload_request_failures_total{method="set",name="/b"} 0
# HELP zkload_request_duration_seconds Response times of the requests recorded, per request method and name.
# TYPE zkload_request_duration_seconds histogram
` + histogramText("zkload_request_duration_seconds", `method="get",name="/a"`, []uint64{1, 1, 2, 2, 2, 2, 3}, 3, 0.00316) +
		histogramText("zkload_request_duration_seconds", `method="set",name="/b"`, nil, 1, 70) +
		`# HELP zkload_worker_info Always 1: the worker's node id (as the master knows it) and command.
# TYPE zkload_worker_info gauge
zkload_worker_info{command="worker",node_id="host_abc",version="test"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "zkload_requests_total",
		"zkload_request_failures_total", "zkload_request_duration_seconds", "zkload_worker_info"); err != nil {
		t.Error(err)
	}
	text := scrapeText(t, reg)
	if !strings.Contains(text, `zkload_value_seconds_count{name="/a",series="schedule_lag"} 1`) {
		t.Errorf("no schedule_lag value series:\n%s", grepLines(text, "zkload_value"))
	}
	if strings.Contains(text, `method="~`) || strings.Contains(text, `name="Total"`) {
		t.Errorf("a value or the Total among the requests:\n%s", grepLines(text, "zkload_"))
	}

	// The next interval adds to the counters.
	r.Record("get", "/a", 40*time.Microsecond, 10, nil)
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}
	if after := scrapeText(t, reg); !strings.Contains(after, `zkload_requests_total{method="get",name="/a"} 4`+"\n") {
		t.Errorf("after a second interval, want 4 get /a requests:\n%s", grepLines(after, "zkload_requests_total"))
	}
	promtoolCheck(t, text)
}

// histogramText is the exposition of one histogram: cum holds the cumulative counts
// of the first buckets, the others repeat the last (all count when cum is shorter).
func histogramText(name, labels string, cum []uint64, count uint64, sum float64) string {
	var b strings.Builder
	last := uint64(0)
	for i, le := range Buckets() {
		if i < len(cum) {
			last = cum[i]
		}
		b.WriteString(name + "_bucket{" + labels + `,le="` + strconv.FormatFloat(le, 'g', -1, 64) + `"} ` + strconv.FormatUint(last, 10) + "\n")
	}
	b.WriteString(name + "_bucket{" + labels + `,le="+Inf"} ` + strconv.FormatUint(count, 10) + "\n")
	b.WriteString(name + "_sum{" + labels + "} " + strconv.FormatFloat(sum, 'g', -1, 64) + "\n")
	b.WriteString(name + "_count{" + labels + "} " + strconv.FormatUint(count, 10) + "\n")
	return b.String()
}

// TestExporterUsersRateEnsemble: the functions' values, and an ensemble poll's members:
// whether they answered, their state, their gauges in seconds where ZooKeeper says ms.
func TestExporterUsersRateEnsemble(t *testing.T) {
	c := newCollector(t)
	samples := []ensemble.Sample{
		{HostPort: "127.0.0.1:2181", State: "leader", Metrics: []ensemble.Metric{
			{Name: "avg_latency", Value: "0.25"}, {Name: "outstanding_requests", Value: "7"},
			{Name: "znode_count", Value: "12"}, {Name: "packets_sent", Value: "99", Counter: true}}},
		{HostPort: "127.0.0.1:2182", Err: errors.New("connection refused")},
	}
	reg, err := NewRegistry(Options{Stats: c,
		Users:       func() (int, map[string]int) { return 5, map[string]int{"Get": 3, "Set": 2} },
		RateOffered: func() float64 { return 250 },
		Ensemble:    func() []ensemble.Sample { return samples },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# HELP zkload_users Users running now.
# TYPE zkload_users gauge
zkload_users 5
# HELP zkload_users_by_class Users running now, per user class.
# TYPE zkload_users_by_class gauge
zkload_users_by_class{class="Get"} 3
zkload_users_by_class{class="Set"} 2
# HELP zkload_rate_offered The open loop's planned rate, operations per second (0 in the closed loop).
# TYPE zkload_rate_offered gauge
zkload_rate_offered 250
# HELP zkload_zk_up 1 if the member answered the worker's last poll of the ensemble's metrics, else 0.
# TYPE zkload_zk_up gauge
zkload_zk_up{member="127.0.0.1:2181"} 1
zkload_zk_up{member="127.0.0.1:2182"} 0
# HELP zkload_zk_server_state 1 for the member's state at the last poll (leader, follower, observer, standalone, ...).
# TYPE zkload_zk_server_state gauge
zkload_zk_server_state{member="127.0.0.1:2181",state="leader"} 1
# HELP zkload_zk_avg_latency_seconds The member's average request latency (ZooKeeper's avg_latency, milliseconds there).
# TYPE zkload_zk_avg_latency_seconds gauge
zkload_zk_avg_latency_seconds{member="127.0.0.1:2181"} 0.00025
# HELP zkload_zk_outstanding_requests Requests queued in the member (ZooKeeper's outstanding_requests).
# TYPE zkload_zk_outstanding_requests gauge
zkload_zk_outstanding_requests{member="127.0.0.1:2181"} 7
# HELP zkload_zk_znodes Znodes in the member's tree (ZooKeeper's znode_count).
# TYPE zkload_zk_znodes gauge
zkload_zk_znodes{member="127.0.0.1:2181"} 12
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "zkload_users", "zkload_users_by_class",
		"zkload_rate_offered", "zkload_zk_up", "zkload_zk_server_state", "zkload_zk_avg_latency_seconds",
		"zkload_zk_outstanding_requests", "zkload_zk_znodes", "zkload_zk_watches"); err != nil {
		t.Error(err)
	}
	text := scrapeText(t, reg)
	for _, m := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "go_goroutines"} {
		if !strings.Contains(text, "\n"+m+" ") {
			t.Errorf("no %s in the output", m)
		}
	}
	promtoolCheck(t, text)
}

// TestServe: the endpoint serves /metrics until its context ends; a bad address and a
// port in use are errors at Listen, before anything is served.
func TestServe(t *testing.T) {
	port, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Listen(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(ctx, addr); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("second Listen on %s: %v, want address already in use", addr, err)
	}
	reg, err := NewRegistry(Options{Stats: newCollector(t), Command: "run"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, Handler(reg)) }()
	resp, err := http.Get("http://" + addr + Path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`zkload_worker_info{command="run"`)) {
		t.Errorf("GET %s: %s\n%s", Path, resp.Status, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after its context ended: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get("http://" + addr + Path); err == nil {
		t.Error("still serving after Serve returned")
	}
}

func TestCheckAddr(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:9646", ":9646", "[::1]:9646", "localhost:1", "0.0.0.0:65535"} {
		if err := CheckAddr(ok); err != nil {
			t.Errorf("CheckAddr(%q): %v", ok, err)
		}
	}
	for addr, want := range map[string]string{
		"9646":            "want host:port or :port",
		"127.0.0.1":       "want host:port or :port",
		"":                "want host:port or :port",
		":0":              `port "0": want a TCP port, 1-65535`,
		":http":           `port "http": want a TCP port`,
		"host:70000":      `port "70000"`,
		"http://x:9646":   "want host:port or :port",
		"a b:9646":        `host "a b"`,
		"::1:9646":        "want host:port or :port",
		"127.0.0.1:9646:": "want host:port or :port",
	} {
		if err := CheckAddr(addr); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckAddr(%q) = %v, want %q", addr, err, want)
		}
	}
}

// scrapeText is the endpoint's answer to a scrape, as Prometheus reads it.
func scrapeText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d\n%s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// promtoolCheck runs `promtool check metrics` (Debian's prometheus package) on text,
// when promtool is installed (scripts/setup.sh --test installs it).
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (Debian package prometheus, scripts/setup.sh --test): not checking the exposition with it")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
