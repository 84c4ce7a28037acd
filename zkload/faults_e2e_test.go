package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/faults"
	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// startEnsembleCommand runs `zkload ensemble --members n` as users do and returns its
// connect string and directory (which holds its control URL).
func startEnsembleCommand(t *testing.T, n int) (connect, dir string) {
	t.Helper()
	zktest.Require(t)
	dir = filepath.Join(t.TempDir(), "zk")
	p := testenv.StartProcess(t, zkloadBin, []string{"ensemble", "--members", strconv.Itoa(n), "--dir", dir}, nil)
	line := p.WaitLog(`^connect: `, 120*time.Second)
	return strings.TrimPrefix(strings.TrimSpace(line), "connect: "), dir
}

// TestLeaderKillDuringSetLoad: a fault program kills the leader of a real 3-member
// ensemble (run by `zkload ensemble`) during a Set load and brings it back. The
// timeline has the kill, of the leader, with another leader after an election longer
// than 0 and shorter than the session timeout; the failures are connection losses; at
// the end every member serves again. A bad program is refused before the load starts,
// naming its line.
func TestLeaderKillDuringSetLoad(t *testing.T) {
	t.Parallel()
	connect, dir := startEnsembleCommand(t, 3)

	p := testenv.StartProcess(t, zkloadBin, []string{"run", "--hosts", connect, "-t", "5s", "Set",
		"--dispatch-program", "sleep 100\nsleep 100\nexplode 3\n", "--dispatch-control", dir}, nil)
	if code := p.Wait(10 * time.Second); code != 2 || !strings.Contains(p.Log(), `line 3 "explode 3": unknown instruction "explode"`) ||
		strings.Count(strings.TrimSpace(p.Log()), "\n") != 0 || strings.Contains(p.Log(), "Ramping") {
		t.Errorf("bad program: exit %d, output:\n%s\nwant exit 2 and one line naming line 3", code, p.Log())
	}

	// A partition asked of an ensemble started without --partitions: refused before the
	// load, naming the line.
	p = testenv.StartProcess(t, zkloadBin, []string{"run", "--hosts", connect, "-t", "5s", "Set",
		"--dispatch-program", "once\nsleep 100\npartition_leader\n", "--dispatch-control", dir}, nil)
	if code := p.Wait(10 * time.Second); code == 0 || !strings.Contains(p.Log(), `line 3 "partition_leader": the local ensemble cannot partition: partitions are off`) ||
		strings.Contains(p.Log(), "Ramping") {
		t.Errorf("a partition of an ensemble without partitions: exit %d, output:\n%s\nwant a refusal naming line 3 before the load", code, p.Log())
	}

	out := filepath.Join(t.TempDir(), "run")
	p = testenv.StartProcess(t, zkloadBin, []string{"run", "--hosts", connect, "-u", "6", "-r", "6", "-t", "14s", "--only-summary",
		"--report-dir", out, "Set",
		"--dispatch-program", "once\npoll_initial_hatch_complete 100\nsleep 2000\ndisable_leader\nsleep 3000\nenable_all\n",
		"--dispatch-control", dir}, nil)
	if code := p.Wait(90 * time.Second); code != 1 {
		t.Fatalf("zkload run: exit %d, want 1 (failures while the leader was down)\n%s", code, p.Log())
	}
	rows := testenv.CSVRecords(t, filepath.Join(out, "faults.csv"))
	if len(rows) != 2 {
		t.Fatalf("faults timeline: %d rows, want 2 (disable, enable): %v", len(rows), rows)
	}
	kill, back := rows[0], rows[1]
	election, err := strconv.ParseFloat(kill["Election (ms)"], 64)
	if kill["Action"] != "disable" || kill["Role Before"] != "leader" || kill["Leader Before"] != kill["Member"] ||
		kill["Leader After"] == "" || kill["Leader After"] == kill["Member"] || err != nil || election <= 0 || election >= 10000 || kill["Note"] != "" {
		t.Errorf("the kill: %v; want the leader disabled, another leader after 0-10 s (the session timeout)", kill)
	}
	if back["Action"] != "enable" || back["Member"] != kill["Member"] || back["Note"] != "" {
		t.Errorf("the return: %v; want the killed member enabled", back)
	}
	for _, f := range testenv.CSVRecords(t, filepath.Join(out, "locust_failures.csv")) {
		if e := f["Error"]; !strings.Contains(e, "could not connect to a server") && !strings.Contains(e, "connection closed") &&
			!strings.Contains(e, "connection loss") && !strings.Contains(e, "session") {
			t.Errorf("failure %q: want a connection loss", e)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, addr := range strings.Split(connect, ",") {
		for faults.PollRole(ctx, addr) == faults.Down && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		if r := faults.PollRole(ctx, addr); !r.Serving() {
			t.Errorf("member %s after the run: %s, want serving", addr, r)
		}
	}
}

// TestOneDispatcherBehindAMaster: two zkload workers given the same fault program and
// run directory under a real master: only the worker the master numbered 0 runs it,
// after the ramp-up (the master's spawning_complete, or the ramp's end from 2.12.1),
// and the run directory holds one timeline with the leader's kill and return.
func TestOneDispatcherBehindAMaster(t *testing.T) {
	t.Parallel()
	connect, dir := startEnsembleCommand(t, 3)
	lf := zkLocustfile(t, "Set")
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		out := filepath.Join(t.TempDir(), "run")
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: lf, Headless: true, Users: 6, SpawnRate: 3,
			RunTime: "12s", ExpectWorkers: 2, CSVPrefix: "faults"})
		args := []string{"--hosts", connect, "--pseudo-root", "/faults-" + l.Version, "--report-dir", out,
			"--dispatch-program", "once\npoll_initial_hatch_complete 100\nsleep 1000\ndisable_leader\nsleep 2000\nenable_all\n",
			"--dispatch-control", dir}
		w1, w2 := zkWorker(t, m, args...), zkWorker(t, m, args...)
		m.Wait(90 * time.Second)
		w1.Wait(60 * time.Second)
		w2.Wait(60 * time.Second)
		ran := 0
		var zero *testenv.Proc
		for _, w := range []*testenv.Proc{w1, w2} {
			if w.LogContains(`faults: fault program of 5 instructions`) {
				ran++
				zero = w
				if !w.LogContains(`registered with master.* index=0`) {
					t.Errorf("%s ran the fault program without being worker 0", w.Label)
				}
			} else if !w.LogContains(`the worker the master numbered 0 runs the fault program`) {
				t.Errorf("%s neither ran the program nor said who does", w.Label)
			}
		}
		if ran != 1 {
			t.Fatalf("%d workers ran the fault program, want 1", ran)
		}
		rows := testenv.CSVRecords(t, filepath.Join(out, "faults.csv"))
		if len(rows) != 2 || rows[0]["Action"] != "disable" || rows[0]["Role Before"] != "leader" || rows[0]["Election (ms)"] == "" ||
			rows[1]["Action"] != "enable" || rows[1]["Note"] != "" {
			t.Errorf("timeline %v; want the leader's kill with an election, then its return", rows)
		}
		// The kill came after the ramp-up: after worker 0's last spawn (6 users at 3/s
		// are spawned in steps over 2 s).
		kill, err := time.Parse("2006-01-02T15:04:05.000Z", rows[0]["Time"])
		if err != nil {
			t.Fatalf("timeline time %q: %v", rows[0]["Time"], err)
		}
		var lastSpawn time.Time
		for _, line := range zero.LogLines(`msg="spawned users"`) {
			f := strings.Fields(line)
			if at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(f[0], "time=")); err == nil && at.Before(kill) {
				lastSpawn = at
			}
		}
		if n := len(zero.LogLines(`msg="spawned users"`)); n < 2 || lastSpawn.IsZero() || kill.Sub(lastSpawn) < time.Second {
			t.Errorf("the kill at %v came %v after worker 0's last of %d spawns; want after the ramp-up and the program's 1 s sleep",
				kill, kill.Sub(lastSpawn), n)
		}
	})
}

// TestFailoverScript runs `make failover`'s script with short steps: it starts a local
// 3-member ensemble, runs the paper's sequence of faults under a Get/Set load, ends
// the run once the program is done, and leaves a timeline of the 12 actions, a report
// with failover.csv, and the leaders' election times in its output.
func TestFailoverScript(t *testing.T) {
	zktest.Require(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "failover")
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "failover.sh")},
		Env: []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "STEP_MS=1000", "USERS=4"},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "failover.log"),
	})
	if code := p.Wait(5 * time.Minute); code != 0 {
		t.Fatalf("failover.sh: exit %d\n%s", code, p.Log())
	}
	rows := testenv.CSVRecords(t, filepath.Join(out, "run", "faults.csv"))
	actions := map[string]int{}
	for _, r := range rows {
		actions[r["Action"]]++
	}
	if actions["disable"] != 6 || actions["enable"] != 6 {
		t.Errorf("actions %v; want 6 disables (2 of them leaders) and 6 enables", actions)
	}
	if fo := testenv.CSVRecords(t, filepath.Join(out, "run", "report", "failover.csv")); len(fo) != 6 {
		t.Errorf("failover.csv: %d rows, want 6", len(fo))
	}
	if n := len(p.LogLines(`disable +member \d, leader: +a leader again after +[0-9.]+ ms, a write after +[0-9.]+ ms`)); n != 2 {
		t.Errorf("%d leader elections in the output, want 2:\n%s", n, p.Log())
	}
	if !p.LogContains(`report: .*report\.html`) {
		t.Errorf("no report in the output:\n%s", p.Log())
	}
}

// TestSuiteRunsAFaultProgram: `make set` with ZK_DISPATCH_PROGRAM and MEMBERS=3 runs the
// program in the test (the warm-up runs none) on the suite's own 3-member ensemble,
// through two workers and a real master: one timeline, set_faults.csv, with the
// leader's kill and return, which the report reads into failover.csv.
func TestSuiteRunsAFaultProgram(t *testing.T) {
	testenv.RequireLocust(t)
	zktest.Require(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "suite")
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "set"},
		Env: []string{"ZKLOAD=" + zkloadBin, "REPORT_DIR=" + dir, "RUN_TIME=10s", "WARMUP=2s", "USERS=4", "SPAWN_RATE=4",
			"WORKERS=2", "MEMBERS=3", "ZK_LOCUST_HOSTS=", "FORCE=", "STATS_COLLECT=",
			"ZK_DISPATCH_PROGRAM=once\npoll_initial_hatch_complete 100\nsleep 1000\ndisable_leader\nsleep 1500\nenable_all\n"},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "suite.log"),
	})
	// Exit 1: the test's requests failed while the leader was down.
	if code := p.Wait(4 * time.Minute); code > 1 {
		t.Fatalf("suite.sh: exit %d\n%s", code, p.Log())
	}
	rows := testenv.CSVRecords(t, filepath.Join(dir, "set_faults.csv"))
	if len(rows) != 2 || rows[0]["Action"] != "disable" || rows[0]["Role Before"] != "leader" || rows[1]["Action"] != "enable" {
		t.Errorf("set_faults.csv %v; want the leader's kill and return", rows)
	}
	if !strings.Contains(p.Log(), "== warming up") {
		t.Errorf("no warm-up in the output:\n%s", p.Log())
	}
	fo := testenv.CSVRecords(t, filepath.Join(dir, "report", "failover.csv"))
	if len(fo) != 1 || fo[0]["Test"] != "set" {
		t.Fatalf("report's failover.csv %v; want the kill, in test set", fo)
	}
	// The users' own view, from both workers: some user went without a set for longer
	// than the 100 ms the gaps start at (the leader's clients lost their connection),
	// and less than the run; their sessions (10 s timeout) moved to other members.
	if g, err := strconv.ParseFloat(fo[0]["Longest User Gap (s)"], 64); err != nil || g <= 0.1 || g > 10 ||
		!strings.HasPrefix(fo[0]["Longest User Gap By Operation"], "set ") {
		t.Errorf("longest user gap %q (%q), want 0.1 to 10 s of set", fo[0]["Longest User Gap (s)"], fo[0]["Longest User Gap By Operation"])
	}
	if fo[0]["Sessions Lost"] != "0" {
		t.Errorf("%s sessions lost, want none: a leader's kill moves them", fo[0]["Sessions Lost"])
	}
}

// TestPauseAndPartitionInTheReport: under a Set load on a local 3-member ensemble
// started with --partitions, a fault program pauses a follower, resumes it, then cuts
// the leader off from the others and heals it. The timeline has the four actions (the
// cut leader replaced by another after an election), and the report's failover table
// and page have the pause and the partition.
func TestPauseAndPartitionInTheReport(t *testing.T) {
	if err := zkenv.PartitionsAvailable(); err != nil {
		t.Skipf("partitions: %v", err)
	}
	t.Parallel()
	zktest.Require(t)
	dir := filepath.Join(t.TempDir(), "zk")
	e := testenv.StartProcess(t, zkloadBin, []string{"ensemble", "--members", "3", "--partitions", "--dir", dir}, nil)
	connect := strings.TrimPrefix(strings.TrimSpace(e.WaitLog(`^connect: `, 120*time.Second)), "connect: ")

	out := filepath.Join(t.TempDir(), "run")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "--hosts", connect, "-u", "6", "-r", "6", "-t", "20s", "--only-summary",
		"--report-dir", out, "Set", "--dispatch-control", dir, "--dispatch-program",
		"once\npoll_initial_hatch_complete 100\nsleep 1500\npause_follower\nsleep 2000\nenable_all\nsleep 2000\n" +
			"partition_leader\nsleep 4000\nenable_all\n"}, nil)
	if code := p.Wait(2 * time.Minute); code > 1 {
		t.Fatalf("zkload run: exit %d\n%s", code, p.Log())
	}
	rows := testenv.CSVRecords(t, filepath.Join(out, "faults.csv"))
	var got []string
	for _, r := range rows {
		got = append(got, r["Action"]+":"+r["Role Before"])
	}
	if strings.Join(got, " ") != "pause:follower resume:paused partition:leader heal:partitioned" {
		t.Fatalf("timeline %v; want a follower paused and resumed, then the leader cut off and healed", got)
	}
	cut := rows[2]
	if ms, err := strconv.ParseFloat(cut["Election (ms)"], 64); err != nil || ms <= 0 || cut["Leader After"] == cut["Member"] ||
		cut["Leader After"] == "" || cut["Note"] != "" {
		t.Errorf("the partition: %v; want another member leading after an election", cut)
	}
	fo := testenv.CSVRecords(t, filepath.Join(out, "report", "failover.csv"))
	var kinds []string
	for _, r := range fo {
		kinds = append(kinds, r["Action"])
	}
	if strings.Join(kinds, " ") != "pause partition" {
		t.Errorf("failover.csv actions %v; want the pause and the partition", kinds)
	}
	page, err := os.ReadFile(filepath.Join(out, "report", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"partition", "pause"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html does not mention %q", want)
		}
	}
	// The ensemble is whole again: every member serves.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, addr := range strings.Split(connect, ",") {
		for !faults.PollRole(ctx, addr).Serving() && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
		}
		if r := faults.PollRole(ctx, addr); !r.Serving() {
			t.Errorf("member %s after the run: %s, want serving", addr, r)
		}
	}
}

// TestFaultsReachTheLivePage: behind a master with its web UI (zkload's relay in the
// generated locustfile), the fault program's actions reach the master as they happen
// and its /zkload/fleet.json, which the zkload page lists them from, holds them as the
// run directory's timeline does. (TestLivePage drives the page itself in both UIs.)
func TestFaultsReachTheLivePage(t *testing.T) {
	t.Parallel()
	connect, dir := startEnsembleCommand(t, 3)
	m := testenv.StartMaster(t, testenv.MasterOptions{Locust: testenv.Debian(), Locustfile: zkLocustfile(t, "Set"), StopTimeout: time.Second})
	out := filepath.Join(t.TempDir(), "run")
	args := []string{"--hosts", connect, "--pseudo-root", "/faults-live", "--report-dir", out,
		"--dispatch-program", "once\npoll_initial_hatch_complete 100\nsleep 500\ndisable_follower\nsleep 1000\nenable_all\n",
		"--dispatch-control", dir, "Set"}
	workers := []*testenv.Proc{zkWorker(t, m, args...), zkWorker(t, m, args...)}
	m.WaitReadyWorkers(2, 30*time.Second)
	m.Swarm(4, 4, "zk://"+connect)

	var fleetJSON struct {
		Faults []map[string]any `json:"faults"`
	}
	eventually(t, 60*time.Second, func() bool {
		resp, err := http.Get(m.WebURL() + "/zkload/fleet.json?last=1")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&fleetJSON) == nil && len(fleetJSON.Faults) >= 2
	}, func() string {
		return fmt.Sprintf("the master's fleet.json has faults %v, want the program's 2 actions", fleetJSON.Faults)
	})

	m.StopTest()
	for _, w := range workers {
		w.Signal(syscall.SIGTERM)
		if code := w.Wait(30 * time.Second); code != 0 {
			t.Errorf("%s: exit code %d", w.Label, code)
		}
	}
	rows := testenv.CSVRecords(t, filepath.Join(out, "faults.csv"))
	if len(rows) != 2 || len(fleetJSON.Faults) != 2 {
		t.Fatalf("timeline %v, fleet.json %v: want 2 actions in each", rows, fleetJSON.Faults)
	}
	for i, want := range []string{"disable", "enable"} {
		got := fleetJSON.Faults[i]
		if got["action"] != want || rows[i]["Action"] != want || got["address"] != rows[i]["Address"] {
			t.Errorf("action %d: fleet.json %v, timeline %v; want %s of the same member in both", i, got, rows[i], want)
		}
	}
	if got := fleetJSON.Faults[0]["role_before"]; got != "follower" || rows[0]["Role Before"] != "follower" {
		t.Errorf("the disabled member was a %v (timeline: %s), want a follower", got, rows[0]["Role Before"])
	}
}
