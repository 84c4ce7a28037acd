package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/setting"
)

// TestMasterHostIsChecked: an empty, blank or malformed master host is one line on
// stderr naming the input, and exit code 2, before the worker starts.
func TestMasterHostIsChecked(t *testing.T) {
	t.Parallel()
	empty := `want a host name or IP address, not an empty one`
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--master-host", ""}, nil, `--master-host "": ` + empty},
		{[]string{"--master-host="}, nil, `--master-host "": ` + empty},
		{[]string{"--master-host", "  "}, nil, `--master-host "  ": ` + empty},
		{nil, []string{"LOCUST_MASTER_NODE_HOST= \t"}, `LOCUST_MASTER_NODE_HOST " \t": ` + empty},
		{[]string{"--master-host", "127.0.0.1:5557"}, nil,
			`--master-host "127.0.0.1:5557": want a host name or IP address without a port; give port 5557 with --master-port`},
		{[]string{"--master-host", "tcp://master:5557"}, nil, `--master-host "tcp://master:5557": want a host name or IP address, not a URL`},
		{[]string{"--master-host", "two words"}, nil, `--master-host "two words": want a host name or IP address`},
	} {
		args := append(append([]string{"worker"}, tc.args...), "Http")
		p := testenv.StartProcess(t, zkloadBin, args, tc.env)
		code := p.Wait(10 * time.Second)
		out := strings.TrimSpace(p.Log())
		if code != 2 || strings.Contains(out, "\n") || out != "zkload worker: "+tc.want {
			t.Errorf("zkload %q (env %q): exit %d, output %q; want exit 2 and the one line %q", args, tc.env, code, out, "zkload worker: "+tc.want)
		}
	}
}

// TestMasterHostValues: what --master-host and LOCUST_MASTER_NODE_HOST accept, as the
// worker then uses it, and what they refuse.
func TestMasterHostValues(t *testing.T) {
	spec := workerSettings()[0]
	for _, tc := range []struct {
		layers setting.Layers
		want   string // the host, or the error
	}{
		{setting.Layers{Flags: map[string]string{"master-host": "master.example"}}, "master.example"},
		{setting.Layers{Flags: map[string]string{"master-host": " locust-master "}}, "locust-master"},
		{setting.Layers{Flags: map[string]string{"master-host": "zk_master-1.local."}}, "zk_master-1.local."},
		{setting.Layers{Flags: map[string]string{"master-host": "10.0.0.7"}}, "10.0.0.7"},
		{setting.Layers{Flags: map[string]string{"master-host": "[::1]"}}, "::1"},
		{setting.Layers{Flags: map[string]string{"master-host": "::ffff:127.0.0.1"}}, "127.0.0.1"},
		{setting.Layers{LookupEnv: func(string) (string, bool) { return "", true }}, "127.0.0.1"}, // empty: unset
		{setting.Layers{LookupEnv: func(string) (string, bool) { return "m:5557", true }},
			`LOCUST_MASTER_NODE_HOST "m:5557": want a host name or IP address without a port; give port 5557 with LOCUST_MASTER_NODE_PORT`},
		{setting.Layers{Flags: map[string]string{"master-host": "[::1]:5557"}},
			`--master-host "[::1]:5557": want a host name or IP address without a port; give port 5557 with --master-port`},
		{setting.Layers{Flags: map[string]string{"master-host": "-master"}}, `--master-host "-master": want a host name or IP address`},
		{setting.Layers{Flags: map[string]string{"master-host": "a/b"}}, `--master-host "a/b": want a host name or IP address`},
	} {
		v := tc.layers.Get(spec)
		got, err := masterHost(v)
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s %q: got %q, want %q", v.Name(), v.Text, got, tc.want)
		}
	}
}

// logTime is the time= of a zkload log line.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	i := strings.Index(line, "time=")
	if i < 0 {
		t.Fatalf("no time= in %q", line)
	}
	f := strings.Fields(line[i+len("time="):])
	ts, err := time.Parse(time.RFC3339Nano, f[0])
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// quietWhileWaiting checks a worker's log while it has no master: only the warnings
// matching want (at most max), never an error, a malformed message or a lost master;
// then SIGTERM ends it cleanly.
func quietWhileWaiting(t *testing.T, w *testenv.Proc, want string, max int) {
	t.Helper()
	if n := w.LogCount(`level=ERROR`); n > 0 {
		t.Errorf("%d ERROR lines:\n%s", n, w.Log())
	}
	warns, wanted := w.LogCount(`level=WARN`), w.LogCount(want)
	if warns != wanted || wanted > max {
		t.Errorf("%d WARN lines, %d of them %q; want only those, at most %d:\n%s", warns, wanted, want, max, w.Log())
	}
	for _, bad := range []string{"malformed", "master lost", "connected to master"} {
		if w.LogContains(bad) {
			t.Errorf("log has %q:\n%s", bad, w.Log())
		}
	}
	w.Signal(syscall.SIGTERM)
	if code := w.Wait(5 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0:\n%s", code, w.Log())
	}
	if !w.LogContains(`msg="worker quit"`) {
		t.Errorf("no clean quit:\n%s", w.Log())
	}
}

// TestWorkerSaysItCannotResolveTheMaster: a master host that does not resolve is said
// so, naming it, within a few seconds; the worker retries (the name may appear: a
// Service created after its workers) with one line per retry period.
func TestWorkerSaysItCannotResolveTheMaster(t *testing.T) {
	t.Parallel()
	w := testenv.StartProcess(t, zkloadBin, []string{"worker", "--master-host", "nonexistent.invalid", "Http"}, nil)
	started := w.WaitLog(`msg="worker started"`, 10*time.Second)
	re := `level=WARN msg="cannot resolve master host nonexistent\.invalid \([^)"]+\); retrying every 1s"`
	lines := w.WaitLogCount(re, 2, 20*time.Second)
	if d := logTime(t, lines[0]).Sub(logTime(t, started)); d > 5*time.Second {
		t.Errorf("first line %v after the start, want within a few seconds", d)
	}
	if gap := logTime(t, lines[1]).Sub(logTime(t, lines[0])); gap < time.Second {
		t.Errorf("second line %v after the first, want one retry period (2 s)", gap)
	}
	quietWhileWaiting(t, w, re, 3)
}

// TestWorkerWaitsForALateMaster: with nothing listening at the master's address the
// worker says so and keeps trying, one line per retry period; a real master started
// later gets it registered and running a test, and SIGTERM then ends it cleanly. An
// empty LOCUST_MASTER_NODE_HOST counts as unset: 127.0.0.1.
func TestWorkerWaitsForALateMaster(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	port := testenv.FreePort(t)
	w := testenv.StartProcess(t, zkloadBin, []string{"worker", "--master-port", strconv.Itoa(port), "Http"},
		[]string{"LOCUST_MASTER_NODE_HOST="})
	re := fmt.Sprintf(`level=WARN msg="no Locust master at 127\.0\.0\.1:%d yet \(connection refused\); retrying every 1s"`, port)
	lines := w.WaitLogCount(re, 2, 20*time.Second)
	if gap := logTime(t, lines[1]).Sub(logTime(t, lines[0])); gap < time.Second {
		t.Errorf("second line %v after the first, want one retry period (2 s)", gap)
	}
	if n := w.LogCount(`level=(WARN|ERROR)`); n > 3 {
		t.Errorf("%d warnings and errors while waiting, want one per retry period:\n%s", n, w.Log())
	}

	target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
	dir := t.TempDir()
	master := testenv.StartProcessOptions(t, testenv.ProcOptions{Path: testenv.LocustPath, Dir: dir, Label: "master",
		Args: []string{"-f", httpLocustfile(t), "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(port),
			"--headless", "-u", "2", "-r", "2", "-t", "60s", "--expect-workers", "1", "--csv", filepath.Join(dir, "run"), "-H", target.URL}})
	w.WaitLog(`registered with master`, 30*time.Second)
	w.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for target.Total() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the users sent no request")
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.Signal(syscall.SIGTERM)
	if code := w.Wait(5 * time.Second); code != 0 {
		t.Errorf("worker exit code %d after SIGTERM, want 0", code)
	}
	master.WaitLog(`The last worker quit, stopping test`, 10*time.Second)
	if code := master.Wait(20 * time.Second); code != 0 {
		t.Errorf("master exit code %d:\n%s", code, master.Log())
	}
	reported, _ := workerReported(t, w)
	counted := csvInt(t, testenv.CSVAggregated(t, filepath.Join(dir, "run_stats.csv")), "Request Count")
	if served := target.Total(); reported != served || counted != served {
		t.Errorf("worker reported %d, master counted %d, target served %d", reported, counted, served)
	}
	if n := w.LogCount(`level=ERROR`); n > 0 {
		t.Errorf("%d ERROR lines:\n%s", n, w.Log())
	}
}

// garbageServer is a TCP server that sends random bytes to whoever connects.
func garbageServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := rand.New(rand.NewPCG(5, 6))
				buf := make([]byte, 512)
				for i := 0; i < 1000; i++ {
					for j := range buf {
						buf[j] = byte(r.IntN(256))
					}
					buf[0] = 0x01 // what libzmq would take for a ZMTP 1.0 peer's
					if _, err := c.Write(buf); err != nil {
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// TestWorkerSaysNotAMaster: a port where something else listens (a TCP server sending
// garbage, an HTTP server) is said not to be a Locust master, in one line per retry
// period; none of its bytes become messages, and SIGTERM ends the worker cleanly.
func TestWorkerSaysNotAMaster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		port func(t *testing.T) int
		why  string
	}{
		{"garbage", garbageServer, `it does not speak ZeroMQ \(its first bytes are not a ZMTP 3 greeting\)`},
		{"http", func(t *testing.T) int {
			srv := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(srv.Close)
			return srv.Listener.Addr().(*net.TCPAddr).Port
		}, `it accepted the connection but sent no ZeroMQ greeting within 5s`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			port := tc.port(t)
			w := testenv.StartProcess(t, zkloadBin, []string{"worker", "--master-port", strconv.Itoa(port), "Http"}, nil)
			started := w.WaitLog(`msg="worker started"`, 10*time.Second)
			re := fmt.Sprintf(`level=WARN msg="127\.0\.0\.1:%d is not a Locust master: %s; retrying in \d+s"`, port, tc.why)
			lines := w.WaitLogCount(re, 2, 30*time.Second)
			if d := logTime(t, lines[0]).Sub(logTime(t, started)); d > 8*time.Second {
				t.Errorf("first line %v after the start, want within a few seconds", d)
			}
			if gap := logTime(t, lines[1]).Sub(logTime(t, lines[0])); gap < time.Second {
				t.Errorf("second line %v after the first, want at least the retry period (1 s)", gap)
			}
			quietWhileWaiting(t, w, re, 3)
		})
	}
}
