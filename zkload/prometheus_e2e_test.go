package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// promScrape is one scrape of a --prometheus endpoint: its text and its families.
type promScrape struct {
	text string
	fams map[string]*dto.MetricFamily
}

// scrapeProm fetches http://addr/metrics; ok is false while nothing answers.
func scrapeProm(t *testing.T, addr string) (promScrape, bool) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		return promScrape{}, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s %v\n%s", resp.Status, err, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, b)
	}
	return promScrape{text: string(b), fams: fams}, true
}

// entry is a (method, name) pair of request metrics.
type promEntry struct{ method, name string }

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// counters returns a counter family's values per (method, name).
func (s promScrape) counters(family string) map[promEntry]int64 {
	out := map[promEntry]int64{}
	if f := s.fams[family]; f != nil {
		for _, m := range f.GetMetric() {
			out[promEntry{label(m, "method"), label(m, "name")}] = int64(m.GetCounter().GetValue())
		}
	}
	return out
}

// total is the sum of zkload_requests_total.
func (s promScrape) total() int64 {
	var n int64
	for _, v := range s.counters("zkload_requests_total") {
		n += v
	}
	return n
}

// gauge returns the value of an unlabelled gauge, -1 if absent.
func (s promScrape) gauge(family string) float64 {
	if f := s.fams[family]; f != nil && len(f.GetMetric()) == 1 {
		return f.GetMetric()[0].GetGauge().GetValue()
	}
	return -1
}

// waitScrape scrapes every 100 ms until ok accepts a scrape, and returns it; it fails
// the test after timeout, or when the process p has exited.
func waitScrape(t *testing.T, addr string, p *testenv.Proc, timeout time.Duration, what string, ok func(promScrape) bool) promScrape {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last promScrape
	for {
		s, up := scrapeProm(t, addr)
		if up {
			if ok(s) {
				return s
			}
			last = s
		}
		if _, exited := p.Exited(); exited || time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%s); last scrape's zkload lines:\n%s\n%s", what, timeout, p.Status(),
				grepPrefix(last.text, "zkload_"), p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func grepPrefix(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// promtoolCheck runs `promtool check metrics` on a scrape when promtool is installed
// (Debian's prometheus package; scripts/setup.sh --test installs it).
func promtoolCheck(t *testing.T, text string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (Debian package prometheus, scripts/setup.sh --test): the exposition is not checked with it")
		return
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestPrometheusWorker: a worker with --prometheus under a real master (web UI) loads
// an HTTP target. Scraped during the test, its counters grow and its users are the
// master's; after the master stops the test, the scraped counters per (method, name)
// equal what the master received from the worker, and each histogram counts them all.
func TestPrometheusWorker(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: time.Millisecond})
	m := testenv.StartMaster(t, testenv.MasterOptions{Locustfile: httpLocustfile(t), Host: target.URL})
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	w := startWorker(t, m, "--prometheus", addr)
	m.WaitReadyWorkers(1, 20*time.Second)
	before := waitScrape(t, addr, w, 20*time.Second, "the endpoint answers before the test", func(s promScrape) bool { return true })
	if n := before.total(); n != 0 || before.gauge("zkload_users") != 0 {
		t.Errorf("before the test: %d requests, %v users", n, before.gauge("zkload_users"))
	}

	m.Swarm(3, 3, "")
	first := waitScrape(t, addr, w, 20*time.Second, "requests counted", func(s promScrape) bool {
		return s.total() > 0 && s.gauge("zkload_users") == 3
	})
	second := waitScrape(t, addr, w, 10*time.Second, "the counters grow", func(s promScrape) bool { return s.total() > first.total() })
	if f := second.fams["zkload_users_by_class"]; f == nil || len(f.GetMetric()) != 1 || label(f.GetMetric()[0], "class") != "Http" ||
		f.GetMetric()[0].GetGauge().GetValue() != 3 {
		t.Errorf("zkload_users_by_class: %v", f)
	}
	for _, name := range []string{"process_cpu_seconds_total", "process_resident_memory_bytes", "zkload_worker_info"} {
		if second.fams[name] == nil {
			t.Errorf("no %s in the scrape", name)
		}
	}
	promtoolCheck(t, second.text)

	m.StopTest()
	// The master is stopped once the worker's final report came in (the worker reports,
	// then says client_stopped): from then on its table is final.
	var final testenv.WebStats
	deadline := time.Now().Add(20 * time.Second)
	for {
		final = m.Stats()
		if final.State == "stopped" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("master state %q, want stopped", final.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	want := map[promEntry][2]int64{}
	for _, e := range final.Stats {
		if e.Name == "Aggregated" || e.Method == nil {
			continue
		}
		want[promEntry{*e.Method, e.Name}] = [2]int64{e.NumRequests, e.NumFailures}
	}
	agg := final.Aggregated().NumRequests
	if agg <= second.total() || len(want) != 1 {
		t.Fatalf("master: %d requests (scraped %d during the test), entries %v", agg, second.total(), want)
	}
	// The worker's statistics reach the endpoint at the end of their interval (1 s).
	end := waitScrape(t, addr, w, 10*time.Second, "the scrape reaches the master's total", func(s promScrape) bool {
		return s.total() >= agg
	})
	reqs, fails := end.counters("zkload_requests_total"), end.counters("zkload_request_failures_total")
	if len(reqs) != len(want) {
		t.Errorf("scraped entries %v, master's %v", reqs, want)
	}
	for k, v := range want {
		if reqs[k] != v[0] || fails[k] != v[1] {
			t.Errorf("%s %s: scraped %d requests %d failures, the master has %d and %d", k.method, k.name, reqs[k], fails[k], v[0], v[1])
		}
	}
	for _, h := range end.fams["zkload_request_duration_seconds"].GetMetric() {
		k := promEntry{label(h, "method"), label(h, "name")}
		if c := int64(h.GetHistogram().GetSampleCount()); c != reqs[k] {
			t.Errorf("%v: histogram counts %d, requests_total %d", k, c, reqs[k])
		}
	}
	if u := end.gauge("zkload_users"); u != 0 {
		t.Errorf("after the stop: %v users", u)
	}
	promtoolCheck(t, end.text)
}

// TestPrometheusRunZooKeeper: `zkload run --prometheus` (no master) against a real
// ZooKeeper with the ensemble's metrics polled: scraped during the run, its counters
// grow, the member's metrics are there, and the final CSV holds at least what was
// scraped.
func TestPrometheusRunZooKeeper(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 1)
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	dir := t.TempDir()
	admin := strconv.Itoa(e.Members()[0].AdminPort)
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", "2", "-r", "2", "-t", "6s", "--only-summary",
		"--hosts", e.ConnectString(), "--zk-admin-port", admin, "--zk-metrics-collect", "300", "--zk-metrics-csv", dir + "/zk.csv",
		"--csv", dir + "/run", "--prometheus", addr, "Get"}, nil)
	first := waitScrape(t, addr, p, 20*time.Second, "requests and the member's metrics", func(s promScrape) bool {
		return s.total() > 0 && s.fams["zkload_zk_znodes"] != nil
	})
	second := waitScrape(t, addr, p, 10*time.Second, "the counters grow", func(s promScrape) bool { return s.total() > first.total() })
	member := e.Members()[0].Addr()
	for _, name := range []string{"zkload_zk_up", "zkload_zk_server_state", "zkload_zk_num_alive_connections", "zkload_zk_znodes",
		"zkload_zk_watches", "zkload_zk_outstanding_requests", "zkload_zk_avg_latency_seconds"} {
		f := second.fams[name]
		if f == nil || len(f.GetMetric()) != 1 || label(f.GetMetric()[0], "member") != member {
			t.Errorf("%s: %v, want one series for member %s", name, f, member)
		}
	}
	if f := second.fams["zkload_zk_server_state"]; f != nil && label(f.GetMetric()[0], "state") != "standalone" {
		t.Errorf("server state %v, want standalone", f)
	}
	if r := second.fams["zkload_requests_total"]; r == nil || label(r.GetMetric()[0], "method") != "get" {
		t.Errorf("zkload_requests_total: %v", r)
	}
	promtoolCheck(t, second.text)
	if code := p.Wait(30 * time.Second); code != 0 {
		t.Fatalf("zkload run: exit code %d\n%s", code, p.Log())
	}
	row := testenv.CSVAggregated(t, dir+"/run_stats.csv")
	if n := csvInt(t, row, "Request Count"); n < second.total() {
		t.Errorf("final CSV: %d requests, fewer than the %d scraped during the run", n, second.total())
	}
	if _, up := scrapeProm(t, addr); up {
		t.Error("the endpoint still answers after zkload run exited")
	}
}

// TestPrometheusFlagErrors: a bad --prometheus address, and a port in use, are one line
// naming the setting, exit code 2, before anything runs.
func TestPrometheusFlagErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"run", "-H", "http://127.0.0.1:1", "--prometheus", "9646", "Http"}, nil, `--prometheus "9646": want host:port or :port`},
		{[]string{"worker", "--prometheus", "127.0.0.1:99999", "Http"}, nil, `--prometheus "127.0.0.1:99999": port "99999": want a TCP port, 1-65535`},
		{[]string{"worker", "Http"}, []string{"ZKLOAD_PROMETHEUS=localhost"}, `ZKLOAD_PROMETHEUS "localhost": want host:port or :port`},
		{[]string{"run", "-H", "http://127.0.0.1:1", "-t", "1s", "--prometheus", busy.Addr().String(), "Http"}, nil,
			`--prometheus "` + busy.Addr().String() + `": listen tcp ` + busy.Addr().String() + `: bind: address already in use`},
	} {
		p := testenv.StartProcess(t, zkloadBin, tc.args, tc.env)
		code := p.Wait(10 * time.Second)
		out := strings.TrimSpace(p.Log())
		if code != 2 || strings.Count(out, "\n") != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("zkload %s (env %v): exit %d, output %q; want exit 2 and one line with %q", strings.Join(tc.args, " "), tc.env, code, out, tc.want)
		}
	}
}
