package main

import (
	"encoding/json"
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
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/rundir"
)

// readRunInfo reads a run directory's run.json.
func readRunInfo(t *testing.T, dir string) *rundir.RunInfo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, rundir.Info))
	if err != nil {
		t.Fatal(err)
	}
	var ri rundir.RunInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		t.Fatal(err)
	}
	return &ri
}

// TestSeekFindsAKnownCapacity: `zkload run --seek` against `zkload serve --capacity
// 400` (and 150: TestSeekFindsAnotherCapacity) (a target that serves 400 requests a second, whatever it is offered) finds the
// capacity within the search's precision and the measurement's tolerances, ends the
// test on its own, and leaves the steps (capacity.csv, the knee marked), the windows
// (control.csv: the offered rate following the decisions) and the result in run.json
// and on the console.
func TestSeekFindsAKnownCapacity(t *testing.T) {
	t.Parallel()
	const capacity = 400
	srv, url := startServe(t, "--capacity", strconv.Itoa(capacity))
	defer stopServe(t, srv)
	dir := filepath.Join(t.TempDir(), "seek")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-H", url, "-u", "64", "-r", "64", "-t", "5m", "--only-summary",
		"--report-dir", dir, "Http", "--seek", "errors<1%, p99<2s", "--control-start", "100", "--seek-precision", "0.05"}, nil)
	if code := p.Wait(6 * time.Minute); code != 0 {
		t.Fatalf("zkload run --seek: exit code %d\n%s", code, p.Log())
	}
	ri := readRunInfo(t, dir)
	c := ri.Control
	if c == nil || c.Mode != "seek" || !c.Done {
		t.Fatalf("run.json control %+v; want a finished seek\n%s", c, p.Log())
	}
	// The target serves 400/s: levels above it fail on throughput; the measurement
	// allows 3 % below the offered rate (SeekConfig.Throughput) and the bracket 5 %.
	if c.Capacity < 0.95*capacity || c.Capacity > 1.05*capacity || c.Hi <= c.Capacity {
		t.Errorf("capacity %.1f/s (bracket %.1f-%.1f), want within 5%% of %d/s", c.Capacity, c.Lo, c.Hi, capacity)
	}
	if !p.LogContains(`Capacity at errors<1%, p99<2s: \d+ operations/s`) {
		t.Errorf("no capacity on the console:\n%s", p.Log())
	}
	steps := testenv.CSVRecords(t, filepath.Join(dir, rundir.Name(rundir.Capacity, "", "")))
	knees := 0
	for _, s := range steps {
		if s["Knee"] == "true" {
			knees++
			if lvl, _ := strconv.ParseFloat(s["Level"], 64); math.Abs(lvl-c.Capacity) > 0.05 || s["Pass"] != "true" {
				t.Errorf("knee row %v, want the capacity %.1f, passed", s, c.Capacity)
			}
		}
	}
	if len(steps) < 3 || knees != 1 {
		t.Errorf("capacity.csv: %d steps, %d knees; want 3 or more and one", len(steps), knees)
	}
	// The users' plan followed the controller: in a window well inside a step, the
	// offered rate is the one decided before it.
	checkOfferedFollows(t, filepath.Join(dir, rundir.Name(rundir.Control, "", "")), 0.05)
	// The schedule's lateness is not a request: Locust's table has GET / alone.
	if agg := testenv.CSVAggregated(t, filepath.Join(dir, rundir.Name(rundir.LocustStats, "", ""))); agg == nil {
		t.Errorf("no Locust stats")
	}
	checkSeekReport(t, dir, c)
}

// checkSeekReport checks the report of a seek's run directory and the capacity gate
// on it: the report run --report-dir made has the capacity run.json has (capacity.csv,
// report.md's overview and steps); `zkload report` prints it; comparing the run with
// a copy whose capacity is 20 % lower fails --fail-on-capacity-drop 0.1 (exit 4, one
// line naming the test, both capacities and the drop) and passes 20% (exactly at the
// threshold); a bad share is a usage error (exit 2).
func checkSeekReport(t *testing.T, dir string, c *rundir.ControlResult) {
	t.Helper()
	rows := testenv.CSVRecords(t, filepath.Join(dir, "report", "capacity.csv"))
	if len(rows) != 1 || rows[0]["Test"] != "Http" || rows[0]["Mode"] != "seek" || rows[0]["Capacity"] != strconv.FormatFloat(c.Capacity, 'f', 1, 64) ||
		rows[0]["Hi"] != strconv.FormatFloat(c.Hi, 'f', 1, 64) || rows[0]["From"] != "run.json" {
		t.Errorf("report/capacity.csv %v; want the run's capacity %.1f (bracket to %.1f)", rows, c.Capacity, c.Hi)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	level := strings.TrimSuffix(strconv.FormatFloat(math.Round(c.Capacity*10)/10, 'f', 1, 64), ".0")
	for _, want := range []string{"## Load control", "| Http | seek | errors&lt;1%, p99&lt;2s | " + level + " operations/s |",
		"pass: the knee (capacity)", "figures/Http_control_curve.svg", "figures/Http_control_over-time.svg"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// A copy of the run whose capacity is 20 % lower.
	base, lower := filepath.Join(t.TempDir(), "base"), filepath.Join(t.TempDir(), "lower")
	copyRunDir(t, dir, base)
	copyRunDir(t, dir, lower)
	ri := readRunInfo(t, lower)
	ri.Control.Capacity, ri.Control.Lo = 0.8*c.Capacity, 0.8*c.Capacity
	if err := ri.Write(filepath.Join(lower, rundir.Info)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report")
	log := runZkload(t, 0, "report", "--out", out, base, lower)
	if !strings.Contains(log, "Capacity of Http at errors<1%, p99<2s: "+level+" operations/s") ||
		!regexp.MustCompile(`Http capacity: lower against base: \S+ → \S+ operations/s \(-20%, worse\)`).MatchString(log) {
		t.Errorf("zkload report prints no capacity or change:\n%s", log)
	}
	log = runZkload(t, 4, "report", "--out", out, "--fail-on-capacity-drop", "0.1", base, lower)
	if n := len(regexp.MustCompile(`(?m)^zkload report: capacity of Http dropped 20\.0%, more than 10%: \S+ operations/s in the baseline base, \S+ in lower \(exit code 4\)$`).FindAllString(log, -1)); n != 1 {
		t.Errorf("gate at 10%%: want one line naming the test, both capacities and the drop:\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Errorf("a failed gate wrote no report: %v", err)
	}
	log = runZkload(t, 0, "report", "--out", out, "--fail-on-capacity-drop", "20%", base, lower)
	if !strings.Contains(log, "capacity gate: capacity of Http: ") {
		t.Errorf("gate at 20%% (exactly the drop): no passing line:\n%s", log)
	}
	log = strings.TrimSpace(runZkload(t, 2, "report", "--out", out, "--fail-on-capacity-drop", "1.5", base, lower))
	if log != `zkload report: --fail-on-capacity-drop "1.5": want a share from 0 up to (not including) 1, such as 0.1, or a percentage such as 10%` {
		t.Errorf("bad share: %q", log)
	}
}

// copyRunDir copies a run directory's files (not its subdirectories: the report).
func copyRunDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWatchdogStopsTheTest: a target serving 50 requests a second offered 200 builds
// a queue; the watchdog's rule "p99>300ms for 2s" stops the test well before its run
// time, with exit code 3, the verdict on the console and in run.json, and the CSVs
// written.
func TestWatchdogStopsTheTest(t *testing.T) {
	t.Parallel()
	srv, url := startServe(t, "--capacity", "50")
	defer stopServe(t, srv)
	dir := filepath.Join(t.TempDir(), "wd")
	start := time.Now()
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-H", url, "-u", "32", "-r", "32", "-t", "2m", "--only-summary",
		"--report-dir", dir, "Http", "--http-rate", "200", "--watchdog", "p99>300ms for 2s"}, nil)
	if code := p.Wait(time.Minute); code != 3 {
		t.Fatalf("zkload run --watchdog: exit code %d, want 3\n%s", code, p.Log())
	}
	if took := time.Since(start); took > 40*time.Second {
		t.Errorf("the watchdog stopped the test after %v, want well before the 2m run time", took)
	}
	if !p.LogContains(`Watchdog: stopped by the watchdog: p99 \S+ > 300ms for [0-9.]+s`) {
		t.Errorf("no verdict on the console:\n%s", p.Log())
	}
	ri := readRunInfo(t, dir)
	if ri.Exit == nil || *ri.Exit != 3 || ri.Control == nil || ri.Control.Mode != "watchdog" || !strings.Contains(ri.Control.Verdict, "p99") {
		t.Errorf("run.json exit %v, control %+v; want 3 and the verdict", ri.Exit, ri.Control)
	}
	if agg := testenv.CSVAggregated(t, filepath.Join(dir, rundir.Name(rundir.LocustStats, "", ""))); agg["Request Count"] == "0" {
		t.Errorf("Locust's stats CSV has no requests: %v", agg)
	}
}

// TestStagesInUsers: --stages in users ramps the users as the stages say (4, then 8,
// then at once 2) and ends the test after the last stage; the Locust history's user
// counts pass through 8 and end at 2 (before the test's end stops them all).
func TestStagesInUsers(t *testing.T) {
	t.Parallel()
	srv, url := startServe(t)
	defer stopServe(t, srv)
	dir := filepath.Join(t.TempDir(), "stages")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-H", url, "-u", "1", "-r", "1", "-t", "1m", "--only-summary",
		"--report-dir", dir, "Http", "--stages", "2s:4,2s:8,3s:8,0s:2,2s:2", "--control-unit", "users"}, nil)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("zkload run --stages: exit code %d\n%s", code, p.Log())
	}
	hist := testenv.CSVRecords(t, filepath.Join(dir, rundir.Name(rundir.LocustHistory, "", "")))
	var counts []string
	for _, r := range hist {
		if r["Name"] == "Aggregated" {
			counts = append(counts, r["User Count"])
		}
	}
	// The last rows, after the test ended, count 0 users.
	joined := strings.TrimRight(" "+strings.Join(counts, " "), " 0")
	if !strings.Contains(joined, " 8 ") || !strings.HasSuffix(joined, " 2") || strings.Contains(joined[strings.Index(joined, " 8 "):], " 4 ") {
		t.Errorf("user counts over the test %v; want 8 on the way and 2 at the end", counts)
	}
	ri := readRunInfo(t, dir)
	if ri.Control == nil || ri.Control.Mode != "stages" || !ri.Control.Done {
		t.Errorf("run.json control %+v; want finished stages", ri.Control)
	}
}

// TestFleetSeekThroughMaster: one controller for the fleet, behind a real Locust master
// (Debian's 2.12.1 and the newest), headless, with two zkload workers: the master's
// --zkload-seek (a locustfile option, as the web UI shows it) reaches the workers; the
// worker numbered 0 hosts the hub, merges both workers' windows and seeks the capacity
// of `zkload serve --capacity N` (400, and 150 behind the newest) within 5% as one fleet (each worker offering its share), and
// the master stops the test by itself when the search is over, exit code 0; the hub's
// control.csv shows the fleet's offered rate following its decisions.
func TestFleetSeekThroughMaster(t *testing.T) {
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		// Two targets: 400/s behind Debian's master, 150/s behind the newest.
		capacity := 400
		if l.Newer("2.13") {
			capacity = 150
		}
		srv, url := startServe(t, "--capacity", strconv.Itoa(capacity))
		defer stopServe(t, srv)
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 2,
			Users: 64, SpawnRate: 64, RunTime: "5m", CSVPrefix: "run", Host: url,
			ExtraArgs: []string{"--zkload-seek", "errors<1%, p99<2s", "--zkload-control-start", "100", "--zkload-seek-precision", "0.05"}})
		dirs := []string{filepath.Join(t.TempDir(), "w1"), filepath.Join(t.TempDir(), "w2")}
		var workers []*testenv.Proc
		for _, d := range dirs {
			workers = append(workers, startWorker(t, m, "--report-dir", d))
		}
		if code := m.Wait(6 * time.Minute); code != 0 {
			t.Fatalf("master: exit code %d\n%s", code, m.Log())
		}
		if !m.LogContains(`zkload load control: stopping the test: .*capacity`) {
			t.Errorf("the master did not say why it stopped:\n%s", m.Log())
		}
		var hub *testenv.Proc
		var hubDir string
		for i, w := range workers {
			w.Wait(30 * time.Second)
			if w.LogContains(`load control: Capacity at`) {
				hub, hubDir = w, dirs[i]
			}
		}
		if hub == nil {
			t.Fatalf("no worker found the capacity:\n%s\n%s", workers[0].Log(), workers[1].Log())
		}
		line := hub.LogLines(`load control: Capacity at`)[0]
		mm := regexp.MustCompile(`: (\d+) operations/s`).FindStringSubmatch(line)
		if mm == nil {
			t.Fatalf("no capacity in %q", line)
		}
		c, _ := strconv.ParseFloat(mm[1], 64)
		if c < 0.95*float64(capacity) || c > 1.05*float64(capacity) {
			t.Errorf("fleet capacity %.0f/s, want within 5%% of %d/s: %s", c, capacity, line)
		}
		// The hub keeps the result in its run information, where the report reads it.
		infos, _ := filepath.Glob(filepath.Join(hubDir, "worker_*.json"))
		if len(infos) != 1 {
			t.Fatalf("hub's run information: %v", infos)
		}
		var ri rundir.RunInfo
		if b, err := os.ReadFile(infos[0]); err != nil || json.Unmarshal(b, &ri) != nil || ri.Control == nil || math.Round(ri.Control.Capacity) != c {
			t.Errorf("hub's run information control %+v; want the capacity %.0f", ri.Control, c)
		}
		// The offered rate is the fleet's: both workers' shares, merged by the hub.
		checkOfferedFollows(t, filepath.Join(hubDir, rundir.Name(rundir.Control, "", "")), 0.1)
	})
}

// TestWatchdogStopsOnQuorumLoss: under a Get load on a real 3-member ensemble whose
// metrics are polled, a fault program takes two followers out (forced below the quorum);
// the watchdog's "quorum lost for 2s" stops the test with exit code 3 and its verdict,
// and the dispatcher brings the members back before the command ends.
func TestWatchdogStopsOnQuorumLoss(t *testing.T) {
	t.Parallel()
	connect, dir := startEnsembleCommand(t, 3)
	out := filepath.Join(t.TempDir(), "run")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "--hosts", connect, "-u", "4", "-r", "4", "-t", "2m", "--only-summary",
		"--report-dir", out, "--zk-metrics-collect", "250", "Get", "--watchdog", "quorum lost for 2s",
		"--dispatch-program", "once\npoll_initial_hatch_complete 100\nsleep 2000\ndisable_follower\ndisable_follower force\nsleep 60000\nenable_all\n",
		"--dispatch-control", dir}, nil)
	if code := p.Wait(2 * time.Minute); code != 3 {
		t.Fatalf("zkload run: exit %d, want 3 (the watchdog)\n%s", code, p.Log())
	}
	if !p.LogContains(`Watchdog: stopped by the watchdog: quorum \S+ < 1 for [0-9.]+s`) && !p.LogContains(`Watchdog: stopped by the watchdog: quorum`) {
		t.Errorf("no quorum verdict on the console:\n%s", p.Log())
	}
	ri := readRunInfo(t, out)
	if ri.Control == nil || !strings.Contains(ri.Control.Verdict, "quorum") {
		t.Errorf("run.json control %+v; want the quorum verdict", ri.Control)
	}
	// The report says why the test stopped.
	if md, err := os.ReadFile(filepath.Join(out, "report", "report.md")); err != nil || !strings.Contains(string(md), "the watchdog stopped the test: stopped by the watchdog: quorum") {
		t.Errorf("report.md does not say the watchdog stopped the test for the quorum (%v)", err)
	}
	rows := testenv.CSVRecords(t, filepath.Join(out, "faults.csv"))
	if len(rows) < 3 || rows[len(rows)-1]["Action"] != "enable" {
		t.Errorf("faults timeline %v; want two followers out and every member back at the end", rows)
	}
}

// TestMasterRateIsTheFleets: a rate given by the master's options (--zkload-http-rate
// 300) is the fleet's: two workers offer 150/s each, and the master counts about 300
// requests a second, not 600. (A worker's own --http-rate stays that worker's.)
func TestMasterRateIsTheFleets(t *testing.T) {
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		srv, url := startServe(t)
		defer stopServe(t, srv)
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 2,
			Users: 16, SpawnRate: 16, RunTime: "8s", CSVPrefix: "rate", Host: url, ExtraArgs: []string{"--zkload-http-rate", "300"}})
		w1, w2 := startWorker(t, m), startWorker(t, m)
		if code := m.Wait(time.Minute); code != 0 {
			t.Fatalf("master: exit code %d\n%s", code, m.Log())
		}
		for _, w := range []*testenv.Proc{w1, w2} {
			w.Wait(20 * time.Second)
			if !w.LogContains(`the master's rate is the fleet's: this worker offers its share.* workers=2 share=150.00`) {
				t.Errorf("a worker did not take its share of 300/s over 2:\n%s", w.Log())
			}
		}
		agg := testenv.CSVAggregated(t, m.CSV("stats"))
		rps, _ := strconv.ParseFloat(agg["Requests/s"], 64)
		// The master's rate counts from its own start, a little before the plans start.
		if rps < 0.85*300 || rps > 1.05*300 {
			t.Errorf("the master counts %.1f requests/s, want the fleet's 300 (not 600)", rps)
		}
	})
}

// TestFleetStagesInUsersThroughMaster: stages in users behind a real master: the hub's
// decisions become the master's own user count (4, then 8, then 3, spawned and spread
// over both workers by the master), each sent once, and the master stops the test by
// itself after the last stage.
func TestFleetStagesInUsersThroughMaster(t *testing.T) {
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		srv, url := startServe(t)
		defer stopServe(t, srv)
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 2,
			Users: 2, SpawnRate: 2, RunTime: "1m", CSVPrefix: "stages", Host: url,
			ExtraArgs: []string{"--zkload-stages", "3s:4,3s:8,2s:8,0s:3,3s:3", "--zkload-control-unit", "users"}})
		startWorker(t, m)
		startWorker(t, m)
		if code := m.Wait(time.Minute); code != 0 {
			t.Fatalf("master: exit code %d\n%s", code, m.Log())
		}
		if !m.LogContains(`zkload load control: stopping the test: stages`) {
			t.Errorf("the master did not stop after the stages:\n%s", m.Log())
		}
		for _, n := range []string{"4", "8", "3"} {
			if !m.LogContains(`All users spawned: .*\(` + n + ` total users\)`) {
				t.Errorf("the master never had %s users:\n%s", n, m.Log())
			}
		}
		// One decision per change: the master spawned 8 users a few times at most
		// (a ramp from 4 to 8 is several decisions), not once a second for the 5 s at 8.
		if n := m.LogCount(`All users spawned: .*\(8 total users\)`); n > 3 {
			t.Errorf("the master spawned 8 users %d times: decisions sent without a change", n)
		}
	})
}

// TestCapacityScript runs `make capacity`'s script with short, bounded seeks (at most
// 20 s an operation, up to 100/s, on a local ensemble it starts and stops): a run
// directory per operation with its steps, one report of both with report/capacity.csv,
// and a capacity line per operation in its output. The values depend on the machine
// (a loaded one may find none); that each seek ran and is reported is what is checked.
func TestCapacityScript(t *testing.T) {
	zktest.Require(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "capacity")
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "capacity.sh")},
		Env: []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "SLO=errors<1%", "START=50", "MAX=100", "RUN_TIME=20s", "USERS=8"},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "capacity.log"),
	})
	if code := p.Wait(3 * time.Minute); code != 0 {
		t.Fatalf("capacity.sh: exit %d\n%s", code, p.Log())
	}
	for _, op := range []string{"get", "set"} {
		// A loaded machine may judge no level in the time: the file may hold its header only.
		if _, err := os.Stat(filepath.Join(out, op, rundir.Name(rundir.Capacity, "", ""))); err != nil {
			t.Errorf("%s: no capacity.csv: %v", op, err)
		}
		if ri := readRunInfo(t, filepath.Join(out, op)); ri.Control == nil || ri.Control.Mode != "seek" || ri.Control.Spec != "errors<1%" {
			t.Errorf("%s: run.json control %+v, want a seek of errors<1%%", op, ri.Control)
		}
		if !p.LogContains(`(?m)^   ` + op + `: Capacity of ` + strings.ToUpper(op[:1]) + op[1:] + ` at errors<1%: `) {
			t.Errorf("no capacity line for %s:\n%s", op, p.Log())
		}
	}
	rows := testenv.CSVRecords(t, filepath.Join(out, "report", "capacity.csv"))
	if len(rows) != 2 || rows[0]["Run"] != "get" || rows[1]["Run"] != "set" || rows[0]["Mode"] != "seek" {
		t.Errorf("report/capacity.csv %v, want a seek of get and one of set", rows)
	}
	if !p.LogContains(`report: .*report\.html`) {
		t.Errorf("no report in the output:\n%s", p.Log())
	}
}

// TestSeekFindsAnotherCapacity: a second capacity, 150/s, found within 5% by a
// standalone seek (the first: TestSeekFindsAKnownCapacity).
func TestSeekFindsAnotherCapacity(t *testing.T) {
	t.Parallel()
	const capacity = 150
	srv, url := startServe(t, "--capacity", strconv.Itoa(capacity))
	defer stopServe(t, srv)
	dir := filepath.Join(t.TempDir(), "seek")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-H", url, "-u", "32", "-r", "32", "-t", "5m", "--only-summary",
		"--report-dir", dir, "Http", "--seek", "errors<1%, p99<2s", "--control-start", "50", "--seek-precision", "0.05"}, nil)
	if code := p.Wait(6 * time.Minute); code != 0 {
		t.Fatalf("zkload run --seek: exit code %d\n%s", code, p.Log())
	}
	c := readRunInfo(t, dir).Control
	if c == nil || !c.Done || c.Capacity < 0.95*capacity || c.Capacity > 1.05*capacity {
		t.Errorf("run.json control %+v; want a finished seek within 5%% of %d/s", c, capacity)
	}
}

// TestHoldKeepsASetpoint: --hold p99=100ms against a target serving 300 requests a
// second (its queue is what makes the latency): over the second half of the run the
// windows' p99 stays within 20% of the setpoint (most windows: a loaded test machine
// stalls a window now and then) and their median is within 10%, at a rate near the
// target's capacity.
func TestHoldKeepsASetpoint(t *testing.T) {
	t.Parallel()
	srv, url := startServe(t, "--capacity", "300")
	defer stopServe(t, srv)
	dir := filepath.Join(t.TempDir(), "hold")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-H", url, "-u", "64", "-r", "64", "-t", "40s", "--only-summary",
		"--report-dir", dir, "Http", "--hold", "p99=100ms", "--control-start", "100"}, nil)
	if code := p.Wait(2 * time.Minute); code != 0 {
		t.Fatalf("zkload run --hold: exit code %d\n%s", code, p.Log())
	}
	rows := testenv.CSVRecords(t, filepath.Join(dir, rundir.Name(rundir.Control, "", "")))
	var p99s, offered []float64
	for _, r := range rows[len(rows)/2:] {
		if v, err := strconv.ParseFloat(r["p99 (ms)"], 64); err == nil {
			p99s = append(p99s, v)
		}
		if v, err := strconv.ParseFloat(r["Offered"], 64); err == nil {
			offered = append(offered, v)
		}
	}
	within := 0
	for _, v := range p99s {
		if math.Abs(v-100) <= 20 {
			within++
		}
	}
	sorted := append([]float64(nil), p99s...)
	sort.Float64s(sorted)
	if len(sorted) < 10 {
		t.Fatalf("%d windows in the second half, want 10 or more", len(sorted))
	}
	med := sorted[len(sorted)/2]
	t.Logf("second half: p99 per window %v; offered %v", p99s, offered)
	if float64(within) < 0.75*float64(len(p99s)) || math.Abs(med-100) > 10 {
		t.Errorf("second half: %d of %d windows' p99 within 20%% of 100 ms, median %.1f ms; want three quarters or more, and the median within 10%%",
			within, len(p99s), med)
	}
}

// TestShapeProgramInUsers: a control program in users (zk-locust's instructions) runs
// once: 2 users, then 6 (add_num_clients 4), then 3 (multiply_num_clients 0.5), each
// held 3 s; the Locust history's user counts go 2, 6, 3 in that order. A bad program
// is refused before the load starts, naming its line.
func TestShapeProgramInUsers(t *testing.T) {
	t.Parallel()
	srv, url := startServe(t)
	defer stopServe(t, srv)
	bad := runZkload(t, 2, "run", "-H", url, "-t", "5s", "Http", "--shape", "once\nchange_num_clients 2\nfrobnicate 3\n")
	if !strings.Contains(bad, `line 3 "frobnicate 3": unknown instruction "frobnicate"`) || strings.Contains(bad, "Ramping") {
		t.Errorf("a bad program: %s\nwant a refusal naming line 3 before the load", bad)
	}
	dir := filepath.Join(t.TempDir(), "shape")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-H", url, "-u", "1", "-r", "1", "-t", "1m", "--only-summary",
		"--report-dir", dir, "Http", "--shape", "once\nchange_num_clients 2\nsleep 3000\nadd_num_clients 4\nsleep 3000\nmultiply_num_clients 0.5\nsleep 3000\n"}, nil)
	if code := p.Wait(time.Minute); code != 0 {
		t.Fatalf("zkload run --shape: exit code %d\n%s", code, p.Log())
	}
	var seq []string
	for _, r := range testenv.CSVRecords(t, filepath.Join(dir, rundir.Name(rundir.LocustHistory, "", ""))) {
		if u := r["User Count"]; r["Name"] == "Aggregated" && u != "0" && u != "1" && (len(seq) == 0 || seq[len(seq)-1] != u) {
			seq = append(seq, u)
		}
	}
	if got := strings.Join(seq, " "); got != "2 6 3" {
		t.Errorf("user counts over the test %q, want 2 6 3", got)
	}
}

// checkOfferedFollows checks a control.csv: in every window well inside a step (the
// same rate decided for the two windows before it, not a drain), the offered rate is
// the one decided, within tol (a fraction); and there are 5 such windows or more.
func checkOfferedFollows(t *testing.T, path string, tol float64) {
	t.Helper()
	rows := testenv.CSVRecords(t, path)
	followed := 0
	for i := 2; i < len(rows); i++ {
		a, b := rows[i-2]["Decided Rate"], rows[i-1]["Decided Rate"]
		if a != b || a == "" || strings.HasPrefix(rows[i-1]["Reason"], "drain") {
			continue
		}
		want, _ := strconv.ParseFloat(b, 64)
		got, _ := strconv.ParseFloat(rows[i]["Offered"], 64)
		if want >= 50 && (got < (1-tol)*want || got > (1+tol)*want) {
			t.Errorf("control.csv row %d: offered %.1f/s, the controller decided %.1f/s", i, got, want)
		}
		followed++
	}
	if followed < 5 {
		t.Errorf("control.csv: %d windows inside a step, want 5 or more", followed)
	}
}
