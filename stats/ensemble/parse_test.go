package ensemble

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseMntr(t *testing.T) {
	r, err := parseMntr("zk_version\t3.8.0\nzk_server_state\tleader\nzk_packets_received\t12\nzk_num_alive_connections\t3\nzk_learners\t2\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.state != "leader" || len(r.metrics) != 5 {
		t.Fatalf("state %q, metrics %v", r.state, r.metrics)
	}
	want := []Metric{{"version", "3.8.0", false}, {"server_state", "leader", false}, {"packets_received", "12", true},
		{"num_alive_connections", "3", false}, {"learners", "2", false}}
	for i, m := range want {
		if r.metrics[i] != m {
			t.Errorf("metric %d = %+v, want %+v", i, r.metrics[i], m)
		}
	}
	r, err = parseMntr("This ZooKeeper instance is not currently serving requests\n")
	if err != nil || r.err == nil || !strings.Contains(r.err.Error(), "not currently serving") {
		t.Fatalf("not serving: %+v, %v", r, err)
	}
	if _, err := parseMntr("mntr is not executed because it is not in the whitelist.\n"); err == nil {
		t.Fatal("not whitelisted: no error")
	}
}

func TestParseMonitor(t *testing.T) {
	body := `{
  "version" : "3.8.0",
  "server_state" : "follower",
  "avg_latency" : 0.0,
  "packets_sent" : 7,
  "cnt_readlatency" : 4,
  "znode_count" : 5,
  "nothing" : null,
  "command" : "monitor",
  "error" : null
}`
	r, err := parseMonitor([]byte(body))
	if err != nil || r.err != nil {
		t.Fatal(err, r.err)
	}
	var got []string
	for _, m := range r.metrics {
		got = append(got, m.Name+"="+m.Value)
	}
	if want := "version=3.8.0 server_state=follower avg_latency=0.0 packets_sent=7 cnt_readlatency=4 znode_count=5 nothing="; strings.Join(got, " ") != want {
		t.Fatalf("got %s\nwant %s", strings.Join(got, " "), want)
	}
	if r.state != "follower" || !r.metrics[3].Counter || !r.metrics[4].Counter || r.metrics[5].Counter {
		t.Fatalf("state or counters wrong: %+v", r)
	}
	r, err = parseMonitor([]byte(`{"command":"monitor","error":"This ZooKeeper instance is not currently serving requests"}`))
	if err != nil || r.err == nil {
		t.Fatalf("not serving: %+v, %v", r, err)
	}
	if _, err := parseMonitor([]byte("<html>")); err == nil {
		t.Fatal("html: no error")
	}
}

const promText = `# HELP packets_received packets_received
# TYPE packets_received counter
packets_received 42.0
# TYPE znode_count gauge
znode_count 5.0
# TYPE readlatency summary
readlatency{quantile="0.5",} 1.0
readlatency_count 10.0
readlatency_sum 12.0
`

func TestParsePrometheus(t *testing.T) {
	r, err := parsePrometheus([]byte(promText))
	if err != nil {
		t.Fatal(err)
	}
	want := []Metric{{"packets_received", "42.0", true}, {"znode_count", "5.0", false},
		{`readlatency{quantile="0.5",}`, "1.0", false}, {"readlatency_count", "10.0", true}, {"readlatency_sum", "12.0", true}}
	if len(r.metrics) != len(want) {
		t.Fatalf("metrics %+v", r.metrics)
	}
	for i := range want {
		if r.metrics[i] != want[i] {
			t.Errorf("metric %d = %+v, want %+v", i, r.metrics[i], want[i])
		}
	}
}

func TestMembers(t *testing.T) {
	ms, err := Members("zk://a:2181,b:2182/chroot", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ms[1].HostPort != "b:2182" || ms[1].AdminURL != "http://b:8080/commands/monitor" || ms[0].PrometheusURL != "http://a:7000/metrics" {
		t.Fatalf("%+v", ms)
	}
	ms, err = Members("a,b", []int{8081, 8082}, []int{7001})
	if err != nil || ms[1].AdminURL != "http://b:8082/commands/monitor" || ms[1].PrometheusURL != "http://b:7001/metrics" || ms[0].HostPort != "a:2181" {
		t.Fatalf("%+v, %v", ms, err)
	}
	for _, bad := range []struct {
		connect string
		admin   []int
	}{{"", nil}, {"a:99999", nil}, {"http://a:1", nil}, {"a,b,c", []int{1, 2}}} {
		if _, err := Members(bad.connect, bad.admin, nil); err == nil {
			t.Errorf("Members(%q, %v): no error", bad.connect, bad.admin)
		}
	}
	if p, err := ParsePorts("8080, 8081"); err != nil || len(p) != 2 || p[1] != 8081 {
		t.Fatalf("ParsePorts: %v, %v", p, err)
	}
	if _, err := ParsePorts("80,x"); err == nil {
		t.Fatal("ParsePorts(80,x): no error")
	}
	if _, err := ParseSource("jmx"); err == nil {
		t.Fatal("ParseSource(jmx): no error")
	}
}

func TestRates(t *testing.T) {
	var r Rates
	t0 := time.Now()
	s := func(dt time.Duration, v string, err error) Sample {
		return Sample{Time: t0.Add(dt), HostPort: "a:1", Err: err,
			Metrics: []Metric{{"packets_received", v, true}, {"znode_count", v, false}}}
	}
	if got := r.Update(s(0, "100", nil)); len(got) != 0 {
		t.Fatalf("first sample gave rates %v", got)
	}
	got := r.Update(s(2*time.Second, "150", nil))
	if len(got) != 1 || got[0].Name != "packets_received_per_sec" || got[0].Value != "25.000" {
		t.Fatalf("rates %v", got)
	}
	if got := r.Update(s(3*time.Second, "10", nil)); len(got) != 0 { // restarted
		t.Fatalf("rate across a reset: %v", got)
	}
	r.Update(s(4*time.Second, "", errors.New("down")))
	if got := r.Update(s(5*time.Second, "20", nil)); len(got) != 0 {
		t.Fatalf("rate across an error: %v", got)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func TestAutoFallsBackToPrometheus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(promText))
	}))
	defer srv.Close()
	dead := closedAddr(t)
	m := Member{HostPort: dead, AdminURL: "http://" + dead + "/commands/monitor", PrometheusURL: srv.URL + "/metrics"}
	p, err := NewPoller(Options{Members: []Member{m}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var buf bytes.Buffer
	w, err := NewCSVWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		s := p.Poll(context.Background())
		if s[0].Err != nil || s[0].Source != SourcePrometheus {
			t.Fatalf("poll %d: %+v", i, s[0])
		}
		if err := w.Write(s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rate bool
	for _, r := range rows[1:] {
		rate = rate || r[3] == "packets_received_per_sec" && r[4] == "0.000"
	}
	if !rate {
		t.Fatalf("no packets_received_per_sec row in\n%s", buf.String())
	}

	// A forced source that fails gives an error row naming the member.
	p2, _ := NewPoller(Options{Members: []Member{m}, Source: SourceMntr, Timeout: time.Second})
	defer p2.Close()
	s := p2.Poll(context.Background())
	if s[0].Err == nil || s[0].Source != SourceMntr || !strings.Contains(s[0].Err.Error(), dead) {
		t.Fatalf("forced mntr on a dead member: %+v", s[0])
	}
	// Under auto, no source answering lists every source's error.
	srv.Close()
	p3, _ := NewPoller(Options{Members: []Member{m}, Timeout: time.Second})
	defer p3.Close()
	s = p3.Poll(context.Background())
	if s[0].Err == nil || !strings.Contains(s[0].Err.Error(), "admin: ") || !strings.Contains(s[0].Err.Error(), "prometheus: ") {
		t.Fatalf("auto on a dead member: %+v", s[0])
	}
}
