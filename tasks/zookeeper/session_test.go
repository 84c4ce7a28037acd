package zookeeper

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDialNamesTheCause: without a session, Dial's error names the ensemble and the
// last failed attempt, whether the wait ran out or the run ended first.
func TestDialNamesTheCause(t *testing.T) {
	addr := closedPort(t)
	s := &Settings{Servers: []string{addr}, SessionTimeout: 10 * time.Second}

	_, err := dial(context.Background(), s, 300*time.Millisecond, quietLog(), nil)
	var ce *ConnectError
	want := "zk: no session with " + addr + " within 300ms: dial tcp " + addr + ": connect: connection refused"
	if !errors.As(err, &ce) || err.Error() != want || ce.CutShort() || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("timeout: %v; want %s", err, want)
	}

	_, err = Dial(ctxT(t, 300*time.Millisecond), s, quietLog(), nil)
	want = "could not connect to " + addr + " within the run: dial tcp " + addr + ": connect: connection refused"
	if !errors.As(err, &ce) || err.Error() != want || !ce.CutShort() || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("run ended: %v; want %s, cut short", err, want)
	}
	// Cut short at once, before any attempt failed: nothing says the ensemble is down.
	early := &ConnectError{Servers: addr, Waited: time.Millisecond, Ctx: context.Canceled}
	if early.CutShort() {
		t.Errorf("%v: cut short after 1 ms without a failed attempt", early)
	}
}

// TestUserWithoutSessionFails: a user still connecting when the run ends records a
// connect failure naming the cause, however short the run (it used to vanish).
func TestUserWithoutSessionFails(t *testing.T) {
	addr := closedPort(t)
	classes := Workload{Logger: quietLog()}.Classes(layers(map[string]string{"hosts": addr}))
	h := newHarness(t, classes, "", nil)
	h.users.SetTargets(map[string]int{"Get": 2})
	time.Sleep(300 * time.Millisecond) // the attempts fail at once; the session timeout is 10 s
	<-h.users.StopAll(0)
	h.tally.add(h.rec.Report())
	k := key{ConnectMethod, "get"}
	want := "could not connect to " + addr + " within the run: dial tcp " + addr + ": connect: connection refused"
	if h.tally.fails[k] != 2 || h.tally.errs[want] != 2 {
		t.Errorf("failures %v, errors %v; want 2 %s/get failures: %s", h.tally.fails, h.tally.errs, ConnectMethod, want)
	}
}
