package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/fourlw"
	"github.com/zkload/zkload/internal/zkenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/record"
)

// recorded is one request a user recorded.
type recorded struct {
	user         int
	method, name string
	elapsed      time.Duration
	err          error
	at           time.Time // when it was recorded
}

func (r recorded) String() string {
	s := fmt.Sprintf("user %d %s/%s %v", r.user, r.method, r.name, r.elapsed)
	if r.err != nil {
		s += " (" + r.err.Error() + ")"
	}
	return s
}

// journal is a record.Sink keeping every request, in order, with its exact time.
type journal struct {
	mu   sync.Mutex
	reqs []recorded
}

func (j *journal) Shard(i int) record.Recorder { return journalShard{j, i} }

type journalShard struct {
	j    *journal
	user int
}

func (s journalShard) Record(method, name string, elapsed time.Duration, _ int64, err error) {
	s.j.mu.Lock()
	s.j.reqs = append(s.j.reqs, recorded{s.user, method, name, elapsed, err, time.Now()})
	s.j.mu.Unlock()
}

func (j *journal) all() []recorded {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]recorded(nil), j.reqs...)
}

// count is the number of requests of method, successes or failures.
func (j *journal) count(method string, failed bool) int {
	n := 0
	for _, r := range j.all() {
		if r.method == method && (r.err != nil) == failed {
			n++
		}
	}
	return n
}

// waitFor polls until cond holds, for at most d.
func (j *journal) waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// startStandby runs n Standby users with these flags, every request in the journal.
func startStandby(t *testing.T, flags map[string]string, n int) (*harness, *journal) {
	t.Helper()
	classes := Workload{Logger: quietLog()}.Classes(layers(flags))
	h := newHarness(t, []*boomer.UserClass{classByName(classes, "Standby")}, "", nil)
	j := &journal{}
	h.users.SetSink(j)
	h.users.SetTargets(map[string]int{"Standby": n})
	return h, j
}

// stopPromptly stops the users the way a stop with a stop timeout does (each finishes
// its task first), and checks that idle Standby users do not take that timeout.
func stopPromptly(t *testing.T, h *harness) {
	t.Helper()
	start := time.Now()
	select {
	case <-h.users.StopAll(10 * time.Second):
	case <-time.After(20 * time.Second):
		t.Fatal("users did not stop")
	}
	if took := time.Since(start); took > standbyIdle+2*time.Second {
		t.Errorf("idle Standby users took %v to stop", took)
	}
}

// sessions counts the sessions a standalone server or a leader tracks (its dump's
// session tracker: a line "\t0x<session id>" each), -1 if it cannot tell.
func sessions(addr string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := fourlw.Ask(ctx, addr, "dump")
	tracker, _, ok := strings.Cut(out, "ephemeral nodes dump:")
	if err != nil || !ok {
		return -1
	}
	n := 0
	for _, line := range strings.Split(tracker, "\n") {
		if strings.HasPrefix(line, "\t0x") {
			n++
		}
	}
	return n
}

// leader returns the index of the ensemble's leader, -1 if none serves.
func leader(ctx context.Context, e *zkenv.Ensemble) int {
	for i, m := range e.Members() {
		if m.Running() {
			if mode, err := e.Mode(ctx, i); err == nil && mode == "leader" {
				return i
			}
		}
	}
	return -1
}

// TestStandbyReconnectsAfterLeaderLoss: each user records its connect; killing the
// leader makes every member drop its clients (the followers stop serving until a new
// leader is elected), and each user records a reconnect timed from the loss of its
// connection, below the session timeout, with no failure; stopped, the users close
// their sessions at once.
func TestStandbyReconnectsAfterLeaderLoss(t *testing.T) {
	const users = 3
	e := zktest.Start(t, 3)
	ctx := ctxT(t, 60*time.Second)
	h, j := startStandby(t, map[string]string{"hosts": e.ConnectString(), "session-timeout": "10"}, users)
	if !j.waitFor(30*time.Second, func() bool { return j.count(ConnectMethod, false) == users }) {
		t.Fatalf("not %d connects: %v", users, j.all())
	}
	old := leader(ctx, e)
	if old < 0 {
		t.Fatal("no leader")
	}
	if n := sessions(e.Servers()[old]); n != users {
		t.Fatalf("the leader tracks %d sessions, want the %d users'", n, users)
	}
	killed := time.Now()
	if err := e.StopMember(ctx, old); err != nil {
		t.Fatal(err)
	}
	if !j.waitFor(30*time.Second, func() bool { return j.count(ReconnectMethod, false) == users }) {
		t.Errorf("%d of %d users reconnected", j.count(ReconnectMethod, false), users)
	}
	t.Logf("all reconnected %v after the leader's kill", time.Since(killed).Round(time.Millisecond))
	stopPromptly(t, h)
	// Closed, not left to expire: the new leader forgets the sessions well within
	// their timeout (10 s).
	closed := j.waitFor(3*time.Second, func() bool {
		l := leader(ctx, e)
		return l >= 0 && sessions(e.Servers()[l]) == 0
	})
	if !closed {
		t.Errorf("the users' sessions are still open 3 s after they stopped")
	}

	perUser := map[int][]string{}
	for _, r := range j.all() {
		t.Log(r)
		perUser[r.user] = append(perUser[r.user], r.method)
		if r.name != "standby" || r.err != nil {
			t.Errorf("recorded %v, want standby successes only", r)
		}
		if r.method == ReconnectMethod && (r.elapsed <= 0 || r.elapsed >= 10*time.Second) {
			t.Errorf("%v: want a reconnect time above 0 and below the session timeout", r)
		}
	}
	if len(perUser) != users {
		t.Errorf("records of %d users, want %d", len(perUser), users)
	}
	for u, methods := range perUser {
		if got := strings.Join(methods, " "); got != "connect reconnect" {
			t.Errorf("user %d recorded %s, want connect reconnect", u, got)
		}
	}
}

// proxy forwards connections to a server until blocked: then it drops them and closes
// every new one at once, as a network that refuses this client would, while the
// server goes on.
type proxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	blocked bool
	conns   map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.block() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.blocked {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// block drops every connection and refuses new ones until unblock.
func (p *proxy) block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) unblock() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}

// TestStandbyRecordsExpiryAndConnectsAgain: cut off from a live server for longer than
// the session timeout, each user's session expires on the server; when the user gets
// through again, it records the expiry (a failure, from the loss of its connection to
// the expiry notice) and then its new session's connect.
//
// The users reach the server through a proxy that drops their connections: the server
// itself goes on and expires their sessions on time. (Pausing the server instead, with
// SIGSTOP, leaves to chance what comes first when it resumes, its expiry of the
// sessions or the clients' reconnections waiting in its accept queue: see
// TestSessionExpiryRecovers.)
func TestStandbyRecordsExpiryAndConnectsAgain(t *testing.T) {
	const users = 2
	e := zktest.Start(t, 1)
	p := startProxy(t, e.Servers()[0])
	h, j := startStandby(t, map[string]string{"hosts": p.addr(), "session-timeout": "1"}, users)
	if !j.waitFor(30*time.Second, func() bool { return j.count(ConnectMethod, false) == users }) {
		t.Fatalf("not %d connects: %v", users, j.all())
	}
	server := e.Servers()[0]
	if n := sessions(server); n != users {
		t.Fatalf("the server tracks %d sessions, want the %d users'", n, users)
	}
	cut := time.Now()
	p.block()
	if !j.waitFor(10*time.Second, func() bool { return sessions(server) == 0 }) {
		t.Fatalf("the server still tracks %d sessions 10 s after the users were cut off", sessions(server))
	}
	expired := time.Since(cut)
	t.Logf("the server expired the sessions %v after the cut", expired.Round(time.Millisecond))
	p.unblock()
	if !j.waitFor(30*time.Second, func() bool {
		return j.count(ExpireMethod, true) == users && j.count(ConnectMethod, false) == 2*users
	}) {
		t.Errorf("not %d expiries and %d connects: %v", users, 2*users, j.all())
	}
	stopPromptly(t, h)

	perUser := map[int][]string{}
	for _, r := range j.all() {
		t.Log(r)
		perUser[r.user] = append(perUser[r.user], r.method)
		switch r.method {
		case ExpireMethod:
			if !errors.Is(r.err, zk.ErrSessionExpired) || r.elapsed < expired {
				t.Errorf("%v: want %v after more than %v", r, zk.ErrSessionExpired, expired)
			}
		case ConnectMethod:
			if r.err != nil || r.elapsed <= 0 {
				t.Errorf("%v: want a successful connect", r)
			}
		default:
			t.Errorf("%v: want connects and expiries only", r)
		}
	}
	for u, methods := range perUser {
		if got := strings.Join(methods, " "); got != "connect expire connect" {
			t.Errorf("user %d recorded %s, want connect expire connect", u, got)
		}
	}
}

// TestStandbyConnectTimeout: a session not established within the connect timeout is
// a connect failure naming the cause, and the user dials again, a second after it
// dialled before; stopped while it dials, it returns at once.
func TestStandbyConnectTimeout(t *testing.T) {
	addr := closedPort(t)
	h, j := startStandby(t, map[string]string{"hosts": addr, "bench-connect-timeout-ms": "300"}, 1)
	if !j.waitFor(10*time.Second, func() bool { return j.count(ConnectMethod, true) >= 2 }) {
		t.Fatalf("not 2 connect failures: %v", j.all())
	}
	start := time.Now()
	<-h.users.StopAll(0)
	if took := time.Since(start); took > time.Second {
		t.Errorf("a user dialling took %v to stop", took)
	}
	want := "zk: no session with " + addr + " within 300ms: dial tcp " + addr + ": connect: connection refused"
	all := j.all()
	for i, r := range all {
		if r.method != ConnectMethod || r.err == nil || r.err.Error() != want || r.elapsed < 300*time.Millisecond {
			t.Errorf("%v: want a connect failure after 300ms: %s", r, want)
		}
		if i > 0 && r.at.Sub(all[i-1].at) < 900*time.Millisecond {
			t.Errorf("%v: %v after the one before, want a second", r, r.at.Sub(all[i-1].at))
		}
	}
}

// TestStandbyTransitions: the session events go-zookeeper delivers, in the orders it
// delivers them, make the records the Standby class promises: a connect, one reconnect
// per loss of the connection (the failed attempts in between say disconnected too), a
// reconnect timeout recorded once and the reconnection after it not again, an expiry
// and the new session's connect, which times out when it does not come; events of a
// given-up connection, or after close, are ignored.
func TestStandbyTransitions(t *testing.T) {
	st := &standbyState{timeout: time.Minute, servers: "h:1", wake: make(chan struct{}, 1)}
	st.gen = 1
	st.setPhase(standbyConnecting, time.Now())
	ev := st.onEvent(1)
	send := func(states ...zk.State) {
		for _, s := range states {
			ev(zk.Event{Type: zk.EventSession, State: s})
		}
	}
	want := func(now time.Time, method string, failed bool) transition {
		t.Helper()
		tr, ok := st.next(now)
		if !ok || tr.method != method || (tr.err != nil) != failed {
			t.Fatalf("next: %+v, %v; want %s (failed: %v)", tr, ok, method, failed)
		}
		return tr
	}
	none := func(now time.Time) {
		t.Helper()
		if tr, ok := st.next(now); ok {
			t.Fatalf("next: %+v; want nothing", tr)
		}
	}
	send(zk.StateConnecting, zk.StateConnected, zk.StateHasSession)
	want(time.Now(), ConnectMethod, false)
	none(time.Now().Add(time.Hour)) // connected: no timeout
	<-st.wake

	// A loss, failed attempts, then connected again.
	send(zk.StateDisconnected, zk.StateConnecting, zk.StateConnected, zk.StateDisconnected, zk.StateConnecting)
	none(time.Now())
	if left, ok := st.untilTimeout(time.Now()); !ok || left <= 0 || left > time.Minute {
		t.Errorf("time left before the reconnect timeout: %v, %v", left, ok)
	}
	send(zk.StateConnected, zk.StateHasSession)
	if tr := want(time.Now(), ReconnectMethod, false); tr.elapsed <= 0 || tr.elapsed > time.Second {
		t.Errorf("reconnect time %v", tr.elapsed)
	}

	// A loss longer than the timeout: one failure, and the reconnection not recorded.
	send(zk.StateDisconnected, zk.StateConnecting)
	tr := want(time.Now().Add(time.Minute), ReconnectMethod, true)
	if tr.err.Error() != "zk: not connected again to h:1 within 1m0s" || tr.elapsed < time.Minute || tr.abandon {
		t.Errorf("reconnect timeout: %+v", tr)
	}
	none(time.Now().Add(2 * time.Minute))
	send(zk.StateConnected, zk.StateHasSession)
	none(time.Now())

	// An expiry, then the new session: a connect timed from the expiry notice.
	send(zk.StateDisconnected, zk.StateConnecting, zk.StateConnected, zk.StateExpired)
	if tr := want(time.Now(), ExpireMethod, true); !errors.Is(tr.err, zk.ErrSessionExpired) {
		t.Errorf("expiry: %+v", tr)
	}
	send(zk.StateDisconnected, zk.StateConnecting, zk.StateConnected, zk.StateHasSession)
	want(time.Now(), ConnectMethod, false)

	// An expiry, and no new session within the timeout: given up.
	send(zk.StateDisconnected, zk.StateConnecting, zk.StateConnected, zk.StateExpired)
	want(time.Now(), ExpireMethod, true)
	tr = want(time.Now().Add(time.Minute), ConnectMethod, true)
	var ce *ConnectError
	if !tr.abandon || !errors.As(tr.err, &ce) || ce.Limit != time.Minute || tr.err.Error() != "zk: no session with h:1 within 1m0s (state StateUnknown)" {
		t.Errorf("connect timeout: %+v", tr)
	}
	send(zk.StateHasSession) // the given-up connection's
	none(time.Now())

	// A new dial's events count; after close, none.
	st.mu.Lock()
	st.gen++
	st.setPhase(standbyConnecting, time.Now())
	st.mu.Unlock()
	ev = st.onEvent(st.gen)
	st.close()
	send(zk.StateConnected, zk.StateHasSession)
	none(time.Now())
}
