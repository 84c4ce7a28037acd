package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/fourlw"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv"
)

// repoRoot is where the scripts are, seen from this package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSuiteScriptRunsTests runs scripts/suite.sh for two short tests whose names
// prefix one another (get_children, then get) on a local ensemble it starts and stops
// itself, as `make get_children get` does: each keeps its own files.
func TestSuiteScriptRunsTests(t *testing.T) {
	testenv.RequireLocust(t)
	if err := zkenv.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	t.Parallel()
	out := t.TempDir()
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "get_children", "get"},
		Env: []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "RUN_TIME=3s", "USERS=4", "SPAWN_RATE=4", "WORKERS=2", "ZK_LOCUST_HOSTS="},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "suite.log"),
	})
	if code := p.Wait(120 * time.Second); code != 0 {
		t.Fatalf("suite.sh: exit %d\n%s", code, p.Log())
	}
	for _, test := range []string{"get_children", "get"} {
		for _, f := range []string{".log", "_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv",
			"_ext_stats_1.csv", "_ext_stats_2.csv", "_ext_distrib_1.jsonl", "_ext_distrib_2.jsonl", "_zk_metrics.csv"} {
			if _, err := os.Stat(filepath.Join(out, test+f)); err != nil {
				t.Errorf("missing %s%s: %v", test, f, err)
			}
		}
		agg := testenv.CSVAggregated(t, filepath.Join(out, test+"_stats.csv"))
		if csvInt(t, agg, "Request Count") == 0 || csvInt(t, agg, "Failure Count") != 0 {
			t.Errorf("%s: aggregated row %v", test, agg)
		}
	}
	log := p.Log()
	for _, want := range []string{"[1/2] get_children", "[2/2] get", "local ZooKeeper stopped", "requests"} {
		if !strings.Contains(log, want) {
			t.Errorf("suite output lacks %q:\n%s", want, log)
		}
	}
}

// TestMultiWorkerFailsWhenAWorkerDies: a worker killed mid-run makes
// scripts/multi-worker.sh fail loudly, naming the worker.
func TestMultiWorkerFailsWhenAWorkerDies(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
	work := t.TempDir()
	lf := httpLocustfile(t)
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash",
		Args: []string{filepath.Join(repoRoot(t), "scripts", "multi-worker.sh"), "2", work,
			"-f", lf, "--headless", "-u", "4", "-r", "4", "-t", "30s", "-H", target.URL, "--", "Http"},
		Env: []string{"ZKLOAD=" + zkloadBin},
	})
	p.WaitLog(`All users spawned`, 30*time.Second)
	pid := workerPid(t, work)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.WaitLog(`worker \d \(pid \d+\) died with status 137`, 10*time.Second)
	p.Signal(syscall.SIGINT) // end the run early
	if code := p.Wait(60 * time.Second); code != 1 {
		t.Errorf("multi-worker.sh exit %d after a worker was killed, want 1\n%s", code, p.Log())
	}
}

// workerPid finds the pid of the first zkload worker whose log is in work.
func workerPid(t *testing.T, work string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || !strings.Contains(string(cmd), zkloadBin+"\x00worker") {
				continue
			}
			fd, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", "1"))
			if err == nil && strings.HasPrefix(fd, work) {
				var pid int
				for _, c := range e.Name() {
					pid = pid*10 + int(c-'0')
				}
				return pid
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no zkload worker logging into %s", work)
	return 0
}

// TestSequenceScriptKeepsStepsApart: a 2-step sequence at two value sizes leaves each
// step's CSVs under its own name, with the size in the task-set names.
func TestSequenceScriptKeepsStepsApart(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	out := t.TempDir()
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "sequence.sh"), "--bench-step-duration", "3"},
		Env: []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "USERS=4", "SPAWN_RATE=4", "WORKERS=1", "ZK_LOCUST_HOSTS=",
			"SEQUENCE_STEPS=set:512 get:8192"},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "sequence.log"),
	})
	if code := p.Wait(120 * time.Second); code != 0 {
		t.Fatalf("sequence.sh: exit %d\n%s", code, p.Log())
	}
	for step, name := range map[string]string{"set_512_B": "set_512_B", "get_8.0_KiB": "get_8.0_KiB"} {
		csv := filepath.Join(out, "sequence", "r1", step+"_stats.csv")
		rows := testenv.CSVRecords(t, csv)
		if len(rows) != 2 || rows[0]["Name"] != name || rows[1]["Name"] != "Aggregated" {
			t.Errorf("%s: rows %v, want one %q row and Aggregated", step, rows, name)
			continue
		}
		if csvInt(t, rows[0], "Request Count") == 0 || csvInt(t, rows[0], "Failure Count") != 0 {
			t.Errorf("%s: %v", step, rows[0])
		}
	}
	bad := testenv.StartProcessOptions(t, testenv.ProcOptions{Path: "bash",
		Args: []string{filepath.Join(repoRoot(t), "scripts", "sequence.sh"), "--bench-repetitions", "zero"},
		Dir:  repoRoot(t), LogPath: filepath.Join(t.TempDir(), "bad.log")})
	if code := bad.Wait(10 * time.Second); code != 2 || !strings.Contains(bad.Log(), `--bench-repetitions "zero"`) {
		t.Errorf("bad repetitions: exit %d, %q", code, bad.Log())
	}
}

// TestZKLocalScript: start serves and prints the connect string, status finds it, stop
// stops it and status then says so.
func TestZKLocalScript(t *testing.T) {
	if err := zkenv.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "zk")
	run := func(want int, args ...string) string {
		t.Helper()
		p := testenv.StartProcessOptions(t, testenv.ProcOptions{Path: "bash",
			Args: append([]string{filepath.Join(repoRoot(t), "scripts", "zk-local.sh")}, append(args, "--dir", dir)...),
			Env:  []string{"ZKLOAD=" + zkloadBin}, LogPath: filepath.Join(t.TempDir(), "zk-local.log")})
		if code := p.Wait(90 * time.Second); code != want {
			t.Fatalf("zk-local.sh %v: exit %d, want %d\n%s", args, code, want, p.Log())
		}
		return strings.TrimSpace(p.Log())
	}
	t.Cleanup(func() { run(0, "stop") })
	connect := run(0, "start")
	if !regexp.MustCompile(`^127\.0\.0\.1:\d+$`).MatchString(connect) {
		t.Fatalf("start printed %q, want a connect string", connect)
	}
	if mode, err := fourlw.Ask(context.Background(), connect, "srvr"); err != nil || !strings.Contains(mode, "Mode: standalone") {
		t.Errorf("the member does not serve: %v %q", err, mode)
	}
	if got := run(0, "status"); got != connect {
		t.Errorf("status printed %q, want %q", got, connect)
	}
	run(0, "stop")
	run(3, "status")
	run(2, "start", "--members", "2")
}
