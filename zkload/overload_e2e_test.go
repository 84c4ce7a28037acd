package main

import (
	"fmt"
	"net"
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

// Tests of zkload run under loads the machine cannot serve: absurd user counts, and
// many users whose requests fail as fast as a refusing target lets them (issue #12).
// None asserts a speed: each waits generously for the process to end, then checks
// that it did end, how, and what it wrote; elapsed times are only logged.

// overloadWait bounds how long an overloaded run may take to end before the test
// fails (the run itself takes seconds).
const overloadWait = 60 * time.Second

// refusingURL is the URL of a loopback port nothing listens on: connections to it are
// refused at once.
func refusingURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// checkFailedRunCSVs checks that a run's four CSV files are complete and hold only
// failed requests (at least one), and returns the request count.
func checkFailedRunCSVs(t *testing.T, prefix string) int64 {
	t.Helper()
	agg := testenv.CSVAggregated(t, prefix+"_stats.csv")
	reqs, fails := csvInt(t, agg, "Request Count"), csvInt(t, agg, "Failure Count")
	if reqs == 0 || fails != reqs {
		t.Errorf("stats.csv: %d requests, %d failures; want failures only, at least one", reqs, fails)
	}
	failures := testenv.CSVRecords(t, prefix+"_failures.csv")
	var occ int64
	for _, row := range failures {
		// HttpUser's text for a refused connection, as Locust 2.12.1's failures CSV
		// writes it: the repr of the text (2.28 dropped that extra repr); or, when more
		// connects are in flight at once than the process may open files (20,000 on
		// some CI machines, for 100,000 users), the text of that limit.
		if e := row["Error"]; e != `"ConnectionRefusedError(111, 'Connection refused')"` && e != `"OSError(24, 'Too many open files')"` {
			t.Errorf("failures.csv: unexpected error %q", row["Error"])
		}
		occ += csvInt(t, row, "Occurrences")
	}
	if occ != reqs {
		t.Errorf("failures.csv counts %d occurrences, stats.csv %d failures", occ, reqs)
	}
	if hist := testenv.CSVRecords(t, prefix+"_stats_history.csv"); len(hist) == 0 {
		t.Errorf("stats_history.csv has no rows")
	}
	testenv.ReadCSV(t, prefix+"_exceptions.csv")
	return reqs
}

// TestOverloadRunTimeEndsTheRun: 100,000 users whose requests are refused at once,
// all spawned in one step, and -t 5s. The run ends (issue #12 wants it within -t +
// 2 s; only the generous overloadWait is asserted, the time is logged), having
// reached its run time rather than been cut short, with its CSV files complete.
func TestOverloadRunTimeEndsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 users for 5 s")
	}
	prefix := filepath.Join(t.TempDir(), "over")
	start := time.Now()
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", "100000", "-r", "100000", "-t", "5s",
		"-H", refusingURL(t), "--csv", prefix, "--only-summary", "Http"}, nil)
	code := p.Wait(overloadWait)
	t.Logf("zkload run -u 100000 -r 100000 -t 5s against a refusing target ended after %.1f s", time.Since(start).Seconds())
	if code != 1 {
		t.Fatalf("exit code %d, want 1 (every request failed)\n%s", code, p.Log())
	}
	if !p.LogContains(`--run-time limit reached, stopping`) || !p.LogContains(`Response time percentiles`) {
		t.Errorf("the run did not end at its run time with a summary:\n%s", p.Log())
	}
	reqs := checkFailedRunCSVs(t, prefix)
	t.Logf("%d requests, all refused", reqs)
}

// TestOverloadSignalDuringSpawn: SIGTERM while 200,000 users are being spawned (no -t)
// ends the run: the spawn stops, the users started are stopped without running, and
// the process exits with the final summary and CSV files.
func TestOverloadSignalDuringSpawn(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns up to 200,000 users")
	}
	prefix := filepath.Join(t.TempDir(), "sig")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", "200000", "-r", "1000000",
		"-H", refusingURL(t), "--csv", prefix, "--only-summary", "Http"}, nil)
	p.WaitLog(`msg="Ramping to users"`, overloadWait)
	// Spawning shows in the process's memory: wait until it has grown by what some
	// thousands of users take, so that the signal comes in the middle of the spawn.
	base := rssOf(t, p.Pid())
	deadline := time.Now().Add(overloadWait)
	for rssOf(t, p.Pid()) < base+32<<20 && !p.LogContains(`All users spawned`) {
		if time.Now().After(deadline) {
			t.Fatalf("the process did not grow while spawning:\n%s", p.Log())
		}
		time.Sleep(5 * time.Millisecond)
	}
	sent := time.Now()
	p.Signal(syscall.SIGTERM)
	code := p.Wait(overloadWait)
	t.Logf("ended %.1f s after SIGTERM", time.Since(sent).Seconds())
	stop := p.WaitLog(`msg="Stopping early" reason="terminated signal received" users=\d+`, time.Second)
	if !p.LogContains(`Response time percentiles`) {
		t.Errorf("no final summary:\n%s", p.Log())
	}
	agg := testenv.CSVAggregated(t, prefix+"_stats.csv")
	reqs, fails := csvInt(t, agg, "Request Count"), csvInt(t, agg, "Failure Count")
	if p.LogContains(`All users spawned`) {
		// A machine fast enough to spawn them all before the signal: the users ran.
		t.Logf("the spawn ended before the signal; %d requests", reqs)
		if code != 1 || fails != reqs || reqs == 0 {
			t.Errorf("exit code %d, %d requests, %d failures; want 1 and failures only", code, reqs, fails)
		}
		return
	}
	// The spawn was interrupted: its users never ran a task.
	users, _ := strconv.Atoi(regexp.MustCompile(`users=(\d+)`).FindStringSubmatch(stop)[1])
	t.Logf("the signal stopped the spawn at %d users", users)
	if users == 0 || users >= 200000 || code != 0 || reqs != 0 {
		t.Errorf("interrupted spawn: %d users, exit code %d, %d requests; want some but not all 200000 users, no request, and 0", users, code, reqs)
	}
	testenv.ReadCSV(t, prefix+"_failures.csv")
	testenv.ReadCSV(t, prefix+"_stats_history.csv")
}

// TestOverloadUserCountBeyondTheMachine: a user count the machine cannot hold is
// refused in one line that says the limit, before anything starts.
func TestOverloadUserCountBeyondTheMachine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"2147483647", "9223372036854775807"} {
		p := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", n, "-r", "1", "-t", "2s",
			"-H", refusingURL(t), "--csv", filepath.Join(dir, "x"), "Http"}, nil)
		code := p.Wait(overloadWait)
		out := strings.TrimSpace(p.Log())
		want := regexp.MustCompile(`^zkload run: --users ` + n + `: more than this machine can hold; at most \d+ users \(.+ / \d+ KiB a user\)$`)
		if code != 2 || !want.MatchString(out) {
			t.Errorf("-u %s: exit code %d, output %q; want 2 and one line matching %s", n, code, out, want)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("a refused run wrote %v", m)
	}
}

// TestOverloadSignalDuringStopTimeout: a signal while the users use their stop
// timeout is answered at once (what is waited for, and how long), not ignored; a
// second one ends the process at once.
func TestOverloadSignalDuringStopTimeout(t *testing.T) {
	t.Parallel()
	tg := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: time.Hour}) // requests that never end
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", "2", "-r", "10", "-t", "1s", "--stop-timeout", "600",
		"-H", tg.URL, "--only-summary", "Http"}, nil)
	p.WaitLog(`msg="--run-time limit reached, stopping" users=2 stop_timeout=10m0s`, overloadWait)
	mark := p.Mark()
	p.Signal(syscall.SIGTERM)
	line := p.WaitLogAfter(mark, `msg="Stopping: waiting up to .* more for users to finish their tasks \(stop timeout 10m0s\)`, overloadWait)
	if !strings.Contains(line, `reason="terminated signal received"`) {
		t.Errorf("the answer does not say why: %s", line)
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(overloadWait); code != 1 {
		t.Errorf("exit code %d after a second signal, want 1", code)
	}
	if !p.LogContains(`second signal, exiting now`) || p.LogCount(`Stopping: waiting up to`) != 1 {
		t.Errorf("want one answer to the first signal and an exit on the second:\n%s", p.Log())
	}
}

// rssOf is a process's resident memory in bytes (0 once it has exited).
func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestOverloadSignalWithAllUsersRunning: the first SIGTERM ends a run whose 100,000
// users are all running and failing as fast as they can (it was ignored once): the
// stop is logged for all of them, the summary and the CSVs are written, exit code 1.
// (No timing assertion: the time it took is logged: 3-10 s here, the longer when the
// signal comes right after the spawn, while every user makes its first request.)
func TestOverloadSignalWithAllUsersRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 100,000 users")
	}
	prefix := filepath.Join(t.TempDir(), "all")
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", "100000", "-r", "1000000",
		"-H", refusingURL(t), "--csv", prefix, "--only-summary", "Http"}, nil)
	p.WaitLog(`msg="All users spawned" users=100000`, overloadWait)
	sent := time.Now()
	p.Signal(syscall.SIGTERM)
	code := p.Wait(overloadWait)
	t.Logf("ended %.1f s after SIGTERM", time.Since(sent).Seconds())
	p.WaitLog(`msg="Stopping early" reason="terminated signal received" users=100000`, time.Second)
	if !p.LogContains(`Response time percentiles`) {
		t.Errorf("no final summary:\n%s", p.Log())
	}
	agg := testenv.CSVAggregated(t, prefix+"_stats.csv")
	if reqs, fails := csvInt(t, agg, "Request Count"), csvInt(t, agg, "Failure Count"); code != 1 || reqs == 0 || fails != reqs {
		t.Errorf("exit code %d, %d requests, %d failures; want 1 and failures only", code, reqs, fails)
	}
	testenv.ReadCSV(t, prefix+"_failures.csv")
	testenv.ReadCSV(t, prefix+"_stats_history.csv")
}
