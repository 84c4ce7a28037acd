package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
)

// zkloadBin is the zkload binary the end-to-end tests run, built once in TestMain.
var zkloadBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zkload-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zkloadBin, err = testenv.Build(dir, "github.com/zkload/zkload/zkload")
	if err != nil {
		fmt.Fprintln(os.Stderr, "building zkload:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// httpLocustfile writes the master-side locustfile that `zkload locustfile Http` prints.
func httpLocustfile(t *testing.T) string {
	t.Helper()
	out := runZkload(t, 0, "locustfile", "Http")
	path := filepath.Join(t.TempDir(), "zkload_locustfile.py")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runZkload runs the binary to completion and checks its exit code.
func runZkload(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	p := testenv.StartProcess(t, zkloadBin, args, nil)
	if code := p.Wait(30 * time.Second); code != wantCode {
		t.Fatalf("zkload %s: exit code %d, want %d\n%s", strings.Join(args, " "), code, wantCode, p.Log())
	}
	return p.Log()
}

func startWorker(t *testing.T, m *testenv.Master, args ...string) *testenv.Proc {
	t.Helper()
	a := append([]string{"worker", "--master-host", "127.0.0.1", "--master-port", strconv.Itoa(m.MasterPort)}, args...)
	a = append(a, "Http")
	return testenv.StartProcess(t, zkloadBin, a, nil)
}

var (
	indexRx    = regexp.MustCompile(`registered with master.* index=(\d+)`)
	reportedRx = regexp.MustCompile(`worker quit.* reported_requests=(\d+) reported_failures=(\d+) undelivered_frames=(\d+)`)
)

// workerIndexes returns the indexes a worker was given, in order.
func workerIndexes(w *testenv.Proc) []int {
	var out []int
	for _, l := range w.LogLines(indexRx.String()) {
		n, _ := strconv.Atoi(indexRx.FindStringSubmatch(l)[1])
		out = append(out, n)
	}
	return out
}

// workerReported returns what a worker that quit says it reported to the master.
func workerReported(t *testing.T, w *testenv.Proc) (requests, failures int64) {
	t.Helper()
	line := w.WaitLog(reportedRx.String(), 5*time.Second)
	m := reportedRx.FindStringSubmatch(line)
	requests, _ = strconv.ParseInt(m[1], 10, 64)
	failures, _ = strconv.ParseInt(m[2], 10, 64)
	if m[3] != "0" {
		t.Errorf("%s: %s frames were never delivered to the master", w.Label, m[3])
	}
	return requests, failures
}

func csvInt(t *testing.T, row map[string]string, col string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(row[col], 10, 64)
	if err != nil {
		t.Fatalf("column %q = %q: %v", col, row[col], err)
	}
	return n
}

// TestHeadlessRunCountsEveryRequest: two workers, --expect-workers 2, a ramp of -u 5 -r 2
// and a -t run. Every request the target served is in the master's final CSV, and in
// the workers' own reports, exactly.
func TestHeadlessRunCountsEveryRequest(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l,
			Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 2,
			Users: 5, SpawnRate: 2, RunTime: "8s", CSVPrefix: "run", Host: target.URL,
		})
		w1 := startWorker(t, m)
		w2 := startWorker(t, m)
		if code := m.Wait(60 * time.Second); code != 0 {
			t.Fatalf("master exit code %d, want 0\n%s", code, m.Log())
		}
		for _, w := range []*testenv.Proc{w1, w2} {
			if code := w.Wait(10 * time.Second); code != 0 {
				t.Errorf("%s exit code %d, want 0", w.Label, code)
			}
		}

		// Handshake: indexes 0 and 1, no version warning, both counted as ready.
		idx := append(workerIndexes(w1), workerIndexes(w2)...)
		if len(idx) != 2 || idx[0]+idx[1] != 1 || idx[0]*idx[1] != 0 {
			t.Errorf("worker indexes %v, want 0 and 1", idx)
		}
		if !m.LogContains(`reported as ready\. 2 workers connected`) {
			t.Errorf("master never saw 2 ready workers")
		}
		for _, bad := range []string{"different version", "report waittime is expired", "Traceback", "Uncaught exception", "unrecognized worker"} {
			if m.LogContains(regexp.QuoteMeta(bad)) {
				t.Errorf("master log has %q:\n%s", bad, strings.Join(m.LogLines(regexp.QuoteMeta(bad)), "\n"))
			}
		}
		// The ramp: spawns of 2, 4 and 5 users in total, converging on 5.
		if !m.LogContains(`All users spawned: .*"Http": 5.*\(5 total users\)`) {
			t.Errorf("the master never reported 5 spawned users:\n%s", strings.Join(m.LogLines("spawn"), "\n"))
		}
		if n := len(w1.LogLines("spawned users")) + len(w2.LogLines("spawned users")); n != 6 {
			t.Errorf("%d spawns applied by the two workers, want 3 each", n)
		}

		// Exact totals: target == master CSV == workers' own reports.
		agg := testenv.CSVAggregated(t, m.CSV("stats"))
		counted := csvInt(t, agg, "Request Count")
		r1, f1 := workerReported(t, w1)
		r2, f2 := workerReported(t, w2)
		served := target.Total()
		if served == 0 || counted != served || r1+r2 != served {
			t.Errorf("target served %d, master counted %d, workers reported %d+%d", served, counted, r1, r2)
		}
		if f := csvInt(t, agg, "Failure Count"); f != 0 || f1+f2 != 0 {
			t.Errorf("failures: master %d, workers %d", f, f1+f2)
		}
		get := testenv.CSVRow(t, m.CSV("stats"), "GET", "/")
		if csvInt(t, get, "Request Count") != counted {
			t.Errorf("GET / row %v does not hold every request", get)
		}
	})
}

// TestFailuresMergeAcrossWorkers: the same error from two workers is one row in
// _failures.csv, with the text Locust's HttpUser would give it.
func TestFailuresMergeAcrossWorkers(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond, Status: map[string]int{"/fail": 500}})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l,
			Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 2,
			Users: 4, SpawnRate: 4, RunTime: "5s", CSVPrefix: "run", Host: target.URL,
		})
		w1 := startWorker(t, m, "--http-path", "/fail")
		w2 := startWorker(t, m, "--http-path", "/fail")
		if code := m.Wait(60 * time.Second); code != 1 {
			t.Fatalf("master exit code %d, want 1 (failures were recorded)\n%s", code, m.Log())
		}
		w1.Wait(10 * time.Second)
		w2.Wait(10 * time.Second)
		rows := testenv.CSVRecords(t, m.CSV("failures"))
		if len(rows) != 1 {
			t.Fatalf("%d rows in _failures.csv, want 1: %v", len(rows), rows)
		}
		// HttpUser names the request's name since 2.14.1, its URL before.
		want := fmt.Sprintf("HTTPError('500 Server Error: Internal Server Error for url: %s/fail')", target.URL)
		if l.Newer("2.14.1") {
			want = "HTTPError('500 Server Error: Internal Server Error for url: /fail')"
		}
		if got := rows[0]["Error"]; !strings.Contains(got, want) {
			t.Errorf("error text %q, want it to hold %q", got, want)
		}
		served := target.Count("/fail")
		if occ := csvInt(t, rows[0], "Occurrences"); occ != served || served == 0 {
			t.Errorf("occurrences %d, target served %d failing requests", occ, served)
		}
		agg := testenv.CSVAggregated(t, m.CSV("stats"))
		if csvInt(t, agg, "Failure Count") != served || csvInt(t, agg, "Request Count") != served {
			t.Errorf("aggregated row %v, want %d requests all failed", agg, served)
		}
	})
}

// TestWebUIRespawnStopAndStartAgain drives the master's web API: up, down, stop, and a
// new test, with two workers that keep their indexes across the stop.
func TestWebUIRespawnStopAndStartAgain(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL, StopTimeout: time.Second})
		w1 := startWorker(t, m)
		w2 := startWorker(t, m)
		m.WaitReadyWorkers(2, 20*time.Second)

		mark := m.Mark()
		m.Swarm(6, 6, "")
		m.WaitLogAfter(mark, `All users spawned: .*\(6 total users\)`, 20*time.Second)
		running := func(n int) string { return fmt.Sprintf(`spawned users.*counts=map\[Http:%d\]`, n) }
		w1.WaitLog(running(3), 10*time.Second)
		w2.WaitLog(running(3), 10*time.Second)

		mark = m.Mark()
		m1, m2 := w1.Mark(), w2.Mark()
		m.Swarm(2, 10, "")
		m.WaitLogAfter(mark, `All users spawned: .*\(2 total users\)`, 20*time.Second)
		w1.WaitLogAfter(m1, running(1), 10*time.Second)
		w2.WaitLogAfter(m2, running(1), 10*time.Second)
		if m.LogContains("report waittime is expired") {
			t.Errorf("a worker's spawning_complete came late")
		}

		// Stop: both workers report client_stopped, wait the stop timeout, and register
		// again with the index they had.
		m1, m2 = w1.Mark(), w2.Mark()
		before1, before2 := workerIndexes(w1), workerIndexes(w2)
		m.StopTest()
		m.WaitLogCountAfter(mark, `reported that it has stopped`, 2, 15*time.Second)
		w1.WaitLogAfter(m1, `registered with master`, 15*time.Second)
		w2.WaitLogAfter(m2, `registered with master`, 15*time.Second)
		after1, after2 := workerIndexes(w1), workerIndexes(w2)
		if after1[len(after1)-1] != before1[0] || after2[len(after2)-1] != before2[0] {
			t.Errorf("indexes changed across a stop: %v -> %v, %v -> %v", before1, after1, before2, after2)
		}
		m.WaitReadyWorkers(2, 10*time.Second)

		// A new test starts from clean stats on the master and serves requests again.
		served := target.Total()
		mark = m.Mark()
		m.Swarm(4, 4, "")
		m.WaitLogAfter(mark, `All users spawned: .*\(4 total users\)`, 20*time.Second)
		deadline := time.Now().Add(15 * time.Second)
		for target.Total() == served || m.Stats().Aggregated().NumRequests == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("the second test served nothing (target %d)", target.Total())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if st := m.Stats(); st.Aggregated().NumRequests > target.Total()-served+int64(10*st.UserCount) {
			t.Errorf("the master's stats after a new start hold %d requests, more than the new test served (%d)",
				st.Aggregated().NumRequests, target.Total()-served)
		}
		m.CheckAlive(10 * time.Second)
	})
}

// TestWorkerSIGTERM: a worker told to stop by its operator quits cleanly; the master
// gives its users to the other worker, and ends a headless run when the last one quits.
func TestWorkerSIGTERM(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		t.Run("other worker takes over", func(t *testing.T) {
			target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
			m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL})
			w1 := startWorker(t, m)
			w2 := startWorker(t, m)
			m.WaitReadyWorkers(2, 20*time.Second)
			m.Swarm(4, 4, "")
			w2.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
			// Both workers' spawning_complete reached the master: a worker still spawning
			// is not "ready", and Locust gives a quitting worker's users only to ready ones.
			m.WaitLog(`All users spawned`, 20*time.Second)
			mark := w2.Mark()
			w1.Signal(syscall.SIGTERM)
			if code := w1.Wait(5 * time.Second); code != 0 {
				t.Errorf("worker exit code %d after SIGTERM, want 0", code)
			}
			m.WaitLog(`quit\. \d+ workers ready`, 10*time.Second)
			w2.WaitLogAfter(mark, `counts=map\[Http:4\]`, 15*time.Second)
			workerReported(t, w1)
			m.CheckAlive(10 * time.Second)
		})
		t.Run("last worker ends a headless run", func(t *testing.T) {
			target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
			m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l,
				Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 1,
				Users: 2, SpawnRate: 2, RunTime: "60s", CSVPrefix: "run", Host: target.URL,
			})
			w := startWorker(t, m)
			w.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
			w.Signal(syscall.SIGTERM)
			if code := w.Wait(5 * time.Second); code != 0 {
				t.Errorf("worker exit code %d after SIGTERM, want 0", code)
			}
			m.WaitLog(`The last worker quit, stopping test`, 10*time.Second)
			m.Wait(20 * time.Second)
			reported, _ := workerReported(t, w)
			counted := csvInt(t, testenv.CSVAggregated(t, m.CSV("stats")), "Request Count")
			if served := target.Total(); served == 0 || reported != served || counted != served {
				t.Errorf("worker reported %d, master counted %d, target served %d", reported, counted, served)
			}
		})
	})
}

// TestWorkerKilledAndReplaced: kill -9 one of two workers; the master marks it missing
// and a fresh worker that joins takes over its share of the users.
func TestWorkerKilledAndReplaced(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL})
		w1 := startWorker(t, m)
		w2 := startWorker(t, m)
		m.WaitReadyWorkers(2, 20*time.Second)
		m.Swarm(4, 4, "")
		w1.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
		w2.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
		w1.Kill()
		m.WaitLog(`failed to send heartbeat, setting state to missing`, 15*time.Second)
		w3 := startWorker(t, m)
		w3.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
		m.CheckAlive(10 * time.Second)
		time.Sleep(500 * time.Millisecond) // let the new users send something
		w3.Signal(syscall.SIGTERM)
		if code := w3.Wait(5 * time.Second); code != 0 {
			t.Errorf("fresh worker exit code %d", code)
		}
		if n, _ := workerReported(t, w3); n == 0 {
			t.Errorf("the fresh worker's users sent no request")
		}
	})
}

// TestMasterKilledAndRestarted: the worker notices the master's death, registers with
// the new master on the same port, and takes part in its next run; the new master
// never goes deaf (nothing stale reaches it).
func TestMasterKilledAndRestarted(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL})
		w := startWorker(t, m)
		m.WaitReadyWorkers(1, 20*time.Second)
		m.Swarm(2, 2, "")
		w.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
		mark := w.Mark()
		m.Restart() // SIGKILL, then a new master on the same ports
		w.WaitLogAfter(mark, `master lost`, 10*time.Second)
		w.WaitLogAfter(mark, `registered with master`, 30*time.Second)
		m.WaitReadyWorkers(1, 20*time.Second)
		served := target.Total()
		m.Swarm(3, 3, "")
		w.WaitLogAfter(mark, `counts=map\[Http:3\]`, 20*time.Second)
		deadline := time.Now().Add(15 * time.Second)
		for m.Stats().Aggregated().NumRequests == 0 || target.Total() == served {
			if time.Now().After(deadline) {
				t.Fatal("no requests reached the new master's stats")
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, bad := range []string{"Traceback", "KeyError", "Uncaught exception"} {
			if m.LogContains(bad) {
				t.Errorf("new master's log has %q:\n%s", bad, m.Log())
			}
		}
		m.CheckAlive(10 * time.Second)
	})
}

// TestBadInputGivesOneLineErrors: every kind of bad input is one line on stderr naming
// the input, and exit code 2.
func TestBadInputGivesOneLineErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"nonsense"}, nil, `unknown command "nonsense"`},
		{[]string{"worker", "--no-such-flag"}, nil, "flag provided but not defined: -no-such-flag"},
		{[]string{"worker", "--master-port", "99999"}, nil, `--master-port "99999": want a TCP port`},
		{[]string{"worker"}, []string{"LOCUST_MASTER_NODE_PORT=abc"}, `LOCUST_MASTER_NODE_PORT "abc": want a TCP port`},
		{[]string{"worker", "Nope"}, nil, `unknown user class "Nope"`},
		{[]string{"worker", "--loglevel", "LOUD"}, nil, `--loglevel "LOUD"`},
		{[]string{"worker", "--master-timeout", "-1s"}, nil, `--master-timeout "-1s": want a positive duration`},
		{[]string{"worker", "--http-timeout", "0s"}, nil, `--http-timeout "0s"`},
		{[]string{"worker"}, []string{"LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP=soon"}, "LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP"},
		{[]string{"locustfile", "--bogus"}, nil, "flag provided but not defined: -bogus"},
		{[]string{"ensemble", "--members", "2"}, nil, `--members "2": want 1, 3 or 5`},
		// The host is checked against the classes before anything starts.
		{[]string{"run", "-H", "ftp://127.0.0.1:8080", "-t", "30s", "Http"}, nil, `host "ftp://127.0.0.1:8080": scheme ftp: is not http or https`},
		{[]string{"run", "-H", "127.0.0.1:8080", "-t", "30s", "Http"}, nil, `host "127.0.0.1:8080" has no scheme; want a URL such as http://127.0.0.1:8080`},
		{[]string{"run", "-t", "30s", "Http"}, nil, "no host"},
		{[]string{"worker", "-H", "localhost:8080", "Http"}, nil, `host "localhost:8080" has no scheme`},
		{[]string{"run", "-H", "http://127.0.0.1:8080", "-t", "30s", "Get"}, nil, `scheme "http://" is not zk://`},
		{[]string{"cleanup", "--hosts", "127.0.0.1:2181", "extra"}, nil, `unexpected argument "extra": cleanup takes only options`},
		{[]string{"metrics", "--hosts", "127.0.0.1:2181", "--timeout", "0s"}, nil, `--timeout "0s": want a positive duration`},
		{[]string{"worker"}, []string{"LOCUST_EXTRA_STATS_COLLECT=often"}, `LOCUST_EXTRA_STATS_COLLECT "often": want milliseconds`},
		{[]string{"worker", "--zk-metrics-collect", "1000", "--zk-metrics-csv", "m.csv"}, nil, "no ensemble to poll"},
		{[]string{"run", "-H", "http://127.0.0.1:8080", "--csv-full-history", "Http"}, nil, "--csv-full-history needs --csv PREFIX"},
		{[]string{"run", "-H", "http://127.0.0.1:8080", "-r", "0", "Http"}, nil, `--spawn-rate "0": want a positive number`},
		{[]string{"run", "-H", "http://127.0.0.1:8080", "-t", "soon", "Http"}, nil, `--run-time "soon": want a time span`},
		{[]string{"report"}, nil, "want at least one run directory"},
	} {
		p := testenv.StartProcess(t, zkloadBin, tc.args, tc.env)
		code := p.Wait(10 * time.Second)
		out := strings.TrimSpace(p.Log())
		if code != 2 || strings.Count(out, "\n") != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("zkload %s: exit %d, output %q; want exit 2 and one line with %q", strings.Join(tc.args, " "), code, out, tc.want)
		}
	}
	for _, args := range [][]string{{"--help"}, {"worker", "--help"}, {"locustfile", "--help"}, {"list", "--help"}, {"ensemble", "--help"}} {
		p := testenv.StartProcess(t, zkloadBin, args, nil)
		if code := p.Wait(10 * time.Second); code != 0 || !strings.Contains(p.Log(), "Usage") && !strings.Contains(p.Log(), "zkload") {
			t.Errorf("zkload %s: exit %d\n%s", strings.Join(args, " "), code, p.Log())
		}
	}
	// A master's option is named where a master's options reach (a worker), and not
	// in a standalone run's help, where there is no master.
	oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if w, r := oneLine(runZkload(t, 0, "worker", "--help")), oneLine(runZkload(t, 0, "run", "--help")); !strings.Contains(w, "master: --zkload-seek") ||
		strings.Contains(r, "master: --") {
		t.Errorf("the master's option names: in worker --help %v (want them), in run --help %v (want none)",
			strings.Contains(w, "master: --zkload-seek"), strings.Contains(r, "master: --"))
	}
	list := runZkload(t, 0, "list")
	for _, want := range []string{"Http (weight 1)", "SetAndGet", "CreateAndDelete"} {
		if !strings.Contains(list, want) {
			t.Errorf("zkload list lacks %q:\n%s", want, list)
		}
	}
}

// TestPlainLocustfileMaster: a master whose locustfile is the user's own (a stub class,
// no zkload relay) drives a zkload worker. The worker sends none of the fleet's
// messages, which would reach no handler and cost the master a warning a second, and
// the test runs as usual (every request the target served is the master's).
func TestPlainLocustfileMaster(t *testing.T) {
	t.Parallel()
	lf := filepath.Join(t.TempDir(), "locustfile.py")
	if err := os.WriteFile(lf, []byte("from locust import User, task\n\n\nclass Http(User):\n    @task\n    def get(self):\n        pass\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: lf, Headless: true, ExpectWorkers: 1,
			Users: 2, SpawnRate: 2, RunTime: "4s", CSVPrefix: "run", Host: target.URL})
		w := startWorker(t, m)
		if code := m.Wait(60 * time.Second); code != 0 {
			t.Fatalf("master exit code %d, want 0\n%s", code, m.Log())
		}
		if code := w.Wait(10 * time.Second); code != 0 {
			t.Errorf("%s exit code %d, want 0", w.Label, code)
		}
		noMasterErrors(t, m)
		noWorkerComplaints(t, w)
		counted := csvInt(t, testenv.CSVAggregated(t, m.CSV("stats")), "Request Count")
		if served := target.Total(); served == 0 || counted != served {
			t.Errorf("target served %d, master counted %d", served, counted)
		}
	})
}
