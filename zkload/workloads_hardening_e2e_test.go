package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
)

// closedLoopback returns host:port of a loopback port nothing listens on: [::1] when
// IPv6 is available, else 127.0.0.1.
func closedLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRunWithoutEnsembleFails: `zkload run --hosts [::1]:PORT -t 3s -u 2 Get` with
// nothing listening used to end with exit code 0, an empty table and not a word; the
// users that never got a session are now failures that say why, and the exit code is 1.
func TestRunWithoutEnsembleFails(t *testing.T) {
	t.Parallel()
	addr := closedLoopback(t)
	out := runZkload(t, 1, "run", "--hosts", addr, "-t", "3s", "-u", "2", "Get")
	for _, want := range []string{
		"could not connect to " + addr + " within the run: dial tcp " + addr + ": connect: connection refused",
		"2 of 2 requests failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "\nconnect  get ") {
		t.Errorf("no connect/get row in the table:\n%s", out)
	}
}

// TestMaxWaitBelowMinWaitIsSaid: --min-wait 10 --max-wait 5 uses 10, and says so once.
func TestMaxWaitBelowMinWaitIsSaid(t *testing.T) {
	t.Parallel()
	out := runZkload(t, 0, "run", "--hosts", closedLoopback(t), "-t", "1s", "-u", "0", "--min-wait", "10", "--max-wait", "5", "Get")
	want := `level=WARN msg="--max-wait 5 is less than --min-wait 10: the think time is 10 ms`
	if strings.Count(out, want) != 1 || strings.Count(out, "is less than") != 1 {
		t.Errorf("want one warning %s...:\n%s", want, out)
	}
}

// TestCleanupRefusesExtraArguments: cleanup takes options only (a regression check).
func TestCleanupRefusesExtraArguments(t *testing.T) {
	t.Parallel()
	p := testenv.StartProcess(t, zkloadBin, []string{"cleanup", "--hosts", closedLoopback(t), "extra"}, nil)
	code := p.Wait(10 * time.Second)
	out := strings.TrimSpace(p.Log())
	if code != 2 || strings.Contains(out, "\n") || !strings.Contains(out, `unexpected argument "extra"`) {
		t.Errorf("exit %d, output %q; want exit 2 and one line naming \"extra\"", code, out)
	}
}
