package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/stats"
)

// liveShotEnv names a directory that TestLivePage writes a screenshot of the zkload page
// into, as live-page.png (doc/live-page.png is taken so); unset, none is taken.
const liveShotEnv = "ZKLOAD_LIVE_SHOT"

// liveRead is what the zkload page showed at one moment (reports/web/browsertest/live.mjs).
type liveRead struct {
	End         float64
	Status      string
	Requests    int64
	Ops         []map[string]string
	Workers     []map[string]string
	Members     []map[string]string
	Charts      int
	Interactive bool
	Error       string
}

// liveResult is live.mjs's output.
type liveResult struct {
	Errors, Outside []string
	Failure         string
	Way             string
	Tab             *struct {
		Head []string
		Rows [][]string
	}
	Reads []liveRead
	MS    map[string]int // milliseconds from the script's start to each step
}

// TestLivePage: the zkload page of the master's web UI, for each Locust release, with two
// zkload workers running Get and Set against a local 3-member ensemble that they poll.
// Headless Chromium opens Locust's UI and follows the way to the page (2.12.1: the
// zkload tab; the newest: the zkload tab, whose table has the operations, then Download
// Data's link); the page shows both workers with their users, numbers that grow between
// two reads 3 s apart, every member with its role (one leader), no console error and no
// request leaving the master; and the p99 it shows for an operation in a window is
// exactly the p99 of both workers' distribution files' windows of that second, merged.
func TestLivePage(t *testing.T) {
	t.Parallel()
	chromium := requireChromium(t)
	node, script := browserScript(t, "live.mjs")
	e := zktest.Start(t, 3)
	var admin []string
	for _, m := range e.Members() {
		admin = append(admin, strconv.Itoa(m.AdminPort))
	}
	lf := zkLocustfile(t, "Get", "Set")
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		start := time.Now()
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: lf, StopTimeout: time.Second})
		dirs := []string{filepath.Join(t.TempDir(), "w1"), filepath.Join(t.TempDir(), "w2")}
		var workers []*testenv.Proc
		for _, d := range dirs {
			workers = append(workers, zkWorker(t, m, "--hosts", e.ConnectString(), "--pseudo-root", "/live-"+l.Version,
				"--zk-admin-port", strings.Join(admin, ","), "--zk-metrics-collect", "500", "--report-dir", d, "Get", "Set"))
		}
		m.WaitReadyWorkers(2, 30*time.Second)
		nodes := []string{nodeID(t, workers[0]), nodeID(t, workers[1])}
		const users = 4
		m.Swarm(users, users, "zk://"+e.ConnectString())

		kind := "react"
		if legacyUI(t, m) {
			kind = "old"
		}
		args := []string{script, m.WebURL() + "/", kind}
		if dir := os.Getenv(liveShotEnv); dir != "" && l.Version == testenv.Debian().Version {
			shot, err := filepath.Abs(filepath.Join(dir, "live-page.png"))
			if err != nil {
				t.Fatal(err)
			}
			args = append(args, shot)
		}
		t.Logf("%s: the test started after %v", l.Version, time.Since(start).Round(time.Millisecond))
		res := runLiveScript(t, node, chromium, args)
		t.Logf("%s: %s; the browser done after %v (its steps, ms: %v)", l.Version, res.Way, time.Since(start).Round(time.Millisecond), res.MS)
		checkLiveReads(t, res, nodes, users, strings.Split(e.ConnectString(), ","))
		if kind == "react" {
			if res.Tab == nil || !slices.Contains(res.Tab.Head, "p99 µs") || len(res.Tab.Rows) == 0 {
				t.Errorf("the React UI's zkload tab: %+v, want the operations with their p99", res.Tab)
			}
		}

		m.StopTest()
		for _, w := range workers {
			w.Signal(syscall.SIGTERM)
			if code := w.Wait(20 * time.Second); code != 0 {
				t.Errorf("%s: exit code %d\n%s", w.Label, code, w.Log())
			}
		}
		t.Logf("%s: the workers stopped after %v", l.Version, time.Since(start).Round(time.Millisecond))
		checkLiveP99(t, res.Reads, dirs)
	})
}

// browserScript returns node and the path of a script in reports/web/browsertest, whose
// npm packages scripts/setup.sh --test installs.
func browserScript(t *testing.T, name string) (node, script string) {
	t.Helper()
	script = filepath.Join(repoRoot(t), "reports", "web", "browsertest", name)
	return testenv.RequireNode(t, script), script
}

func runLiveScript(t *testing.T, node, chromium string, args []string) liveResult {
	t.Helper()
	b := testenv.RunBrowserScript(t, 2*time.Minute, node, chromium, args[0], args[1:]...)
	var res liveResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("%s: %v\n%s", args[0], err, b)
	}
	if res.Failure != "" {
		t.Fatalf("in the browser: %s", res.Failure)
	}
	for _, e := range res.Errors {
		t.Errorf("console error: %s", e)
	}
	for _, u := range res.Outside {
		t.Errorf("a request left the master: %s", u)
	}
	if len(res.Reads) != 2 {
		t.Fatalf("%d reads of the page, want 2", len(res.Reads))
	}
	return res
}

// checkLiveReads checks what the page showed: both workers, their users, numbers that
// grow, every member with its role, the charts.
func checkLiveReads(t *testing.T, res liveResult, nodes []string, users int, members []string) {
	t.Helper()
	for i, r := range res.Reads {
		if r.Error != "" {
			t.Errorf("read %d: the page says %q", i, r.Error)
		}
		var shown []string
		total := 0
		for _, w := range r.Workers {
			shown = append(shown, w["node"])
			n, _ := strconv.Atoi(w["users"])
			total += n
		}
		slices.Sort(shown)
		want := slices.Sorted(slices.Values(nodes))
		if !slices.Equal(shown, want) || total != users {
			t.Errorf("read %d: workers %v with %d users, want %v with %d", i, r.Workers, total, want, users)
		}
		roles := map[string]string{}
		leaders := 0
		for _, m := range r.Members {
			roles[m["host_port"]] = m["role"]
			if m["role"] == "leader" {
				leaders++
			}
		}
		for _, hp := range members {
			if role := roles[hp]; role != "leader" && role != "follower" {
				t.Errorf("read %d: member %s shown as %q, want leader or follower (members %v)", i, hp, role, r.Members)
			}
		}
		if leaders != 1 || len(r.Members) != len(members) {
			t.Errorf("read %d: members %v, want %d with one leader", i, r.Members, len(members))
		}
		ops := 0
		for _, o := range r.Ops {
			if p99, _ := strconv.ParseFloat(o["p99_us"], 64); o["method"] != "" && !strings.HasPrefix(o["method"], "~") && p99 > 0 {
				ops++
			}
		}
		if ops == 0 {
			t.Errorf("read %d: no operation with a p99: %v", i, r.Ops)
		}
		if !r.Interactive || r.Charts < 3 {
			t.Errorf("read %d: %d charts (chart library: %v), want 3 or more: the zkload under test needs make web before its build", i, r.Charts, r.Interactive)
		}
	}
	a, b := res.Reads[0], res.Reads[1]
	if b.End <= a.End || b.Requests <= a.Requests {
		t.Errorf("the page did not move in 3 s: window end %.3f then %.3f, requests %d then %d", a.End, b.End, a.Requests, b.Requests)
	}
}

// checkLiveP99: each operation's p99 the page showed for a window is the p99 of both
// workers' distributions of that window (the same rounded end second), merged.
func checkLiveP99(t *testing.T, reads []liveRead, dirs []string) {
	t.Helper()
	var ds []stats.Distribution
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*ext_distrib*.jsonl"))
		if len(files) != 1 {
			t.Fatalf("%s: distribution files %v, want one", d, files)
		}
		got, err := stats.ReadDistributions(files[0])
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, got...)
	}
	compared := 0
	for _, r := range reads {
		sec := math.Round(r.End)
		var window []stats.Distribution
		clients := map[string]bool{}
		for _, d := range ds {
			if math.Round(float64(d.End.UnixNano())/1e9) == sec {
				window = append(window, d)
				clients[d.ClientID] = true
			}
		}
		if len(clients) != 2 {
			t.Errorf("window ending %.3f: distributions of %d workers, want 2", r.End, len(clients))
			continue
		}
		merged := stats.Merge(window)
		for _, o := range r.Ops {
			k := stats.Key{Method: o["method"], Name: o["name"]}
			if k.IsTotal() || k.IsValue() {
				continue
			}
			s := merged[k]
			if s == nil {
				t.Errorf("window ending %.3f: the page shows %s %s, the distribution files have none", r.End, k.Method, k.Name)
				continue
			}
			if want := strconv.FormatInt(s.Percentile(99), 10); o["p99_us"] != want {
				t.Errorf("window ending %.3f, %s %s: the page shows p99 %s µs, the workers' distributions merged give %s µs", r.End, k.Method, k.Name, o["p99_us"], want)
			}
			compared++
		}
	}
	if compared == 0 {
		t.Error("no p99 compared")
	}
	t.Logf("%d p99 values compared with the distribution files", compared)
}
