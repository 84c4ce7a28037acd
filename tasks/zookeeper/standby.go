package zookeeper

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// The request types a Standby user records (its name is the task set's, standby).
const (
	// ReconnectMethod: the connection was lost and the session connected again; the
	// response time runs from the loss of the connection to connected.
	ReconnectMethod = "reconnect"
	// ExpireMethod: the session expired while disconnected, a failure whose response
	// time runs from the loss of the connection to the expiry notice. The user's next
	// session is a connect again.
	ExpireMethod = "expire"
)

// standbyIdle bounds one wait of a Standby task with nothing to record: the task then
// returns, so that a stop that lets tasks finish (a stop timeout) ends the user within
// this long.
const standbyIdle = time.Second

// standbyRedial is the least time between the starts of a Standby user's dials, as
// between a user's OnStart attempts: a dial that fails at once (a name that does not
// resolve, a refused addauth) must not make a busy loop of failures.
const standbyRedial = time.Second

// standbyTaskSet is the Standby user class of zk-locust's locust_standby.py (on its WIP
// branch nio-netty-listen-queue-WIP): each user keeps one session open and sends
// nothing; what is measured is how long its transitions take. zk-locust recorded the
// first connect and one reconnect, and stopped the user at anything else (a second
// suspension, a lost session); here every transition is recorded and the user carries
// on:
//
//   - connect: dial until the session is established (a failure if not within
//     --bench-connect-timeout-ms, default 60000: the user then dials again);
//   - reconnect: each loss of the connection until connected again, timed from the
//     loss (a failure if not within the same timeout; the wait goes on, and the
//     reconnection that ends it is not recorded again);
//   - expire: the session expired while disconnected, a failure timed from the loss;
//     go-zookeeper then opens a new session, recorded as a connect timed from the
//     expiry notice.
//
// Times come from go-zookeeper's session events, stamped in its event callback as they
// arrive, not when the user's goroutine wakes up. zk-locust's locustfile also disabled
// the leader once, ZK_LOCUST_BENCH_WAIT_DISABLE_MS (15000) after the users were
// spawned; here the fault dispatcher does that (doc/faults.md; Workload.Notes gives a
// worker given that setting the program).
func standbyTaskSet() *TaskSet {
	return define(TaskSet{Class: "Standby", BaseName: "standby", Passive: true,
		Description: "standby: one idle session; times its connect, every reconnect and expiry"},
		setupStandby,
		task("wait", 1, (*standbyState).wait))
}

// standbyPhase is where a Standby user's session is.
type standbyPhase int

const (
	standbyIdlePhase    standbyPhase = iota // no session wanted: not dialled yet, given up, or closed
	standbyConnecting                       // a new session is being established (since: the dial, or the expiry notice)
	standbyConnected                        // the session is connected
	standbyDisconnected                     // the connection was lost (since: its loss)
)

// transition is one thing a Standby user records.
type transition struct {
	gen     int // the dial it belongs to
	method  string
	elapsed time.Duration
	err     error
	// abandon: the connection is given up (a new session did not come in time); the
	// user closes it and dials again.
	abandon bool
}

// standbyState is a Standby user's session and what has happened to it. go-zookeeper's
// event callback moves the phase and queues transitions; the user's task records them,
// and notices the timeouts.
type standbyState struct {
	u       *user
	timeout time.Duration
	servers string
	conn    *zk.Conn  // the user's goroutine only, as dialled
	dialled time.Time // when the last dial started
	wake    chan struct{}

	mu       sync.Mutex
	gen      int // the current dial; events of earlier ones are ignored
	phase    standbyPhase
	since    time.Time // when the phase began
	timedOut bool      // the phase's timeout was recorded
	queue    []transition
	closed   bool
}

func setupStandby(_ context.Context, u *user, _ *rand.Rand) (*standbyState, error) {
	// --bench-connect-timeout-ms, as zk-locust's standby read ZK_LOCUST_BENCH_CONNECT_TIMEOUT_MS.
	timeout, err := u.s.Bench.Millis("connect_timeout_ms", 60*time.Second)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		v, _ := u.s.Bench.Lookup("connect_timeout_ms")
		return nil, v.Errorf("want milliseconds above 0")
	}
	st := &standbyState{u: u, timeout: timeout, servers: strings.Join(u.s.Servers, ","), wake: make(chan struct{}, 1)}
	u.closeState = st.close
	return st, nil
}

// wait records the session's next transition: it dials when there is no session, else
// it waits (at most standbyIdle) for a transition or a timeout. The user sends nothing;
// go-zookeeper's pings keep the session alive.
func (st *standbyState) wait(ctx context.Context, _ time.Time) (time.Duration, int64, error) {
	if st.conn == nil {
		if early := time.Until(st.dialled.Add(standbyRedial)); early > 0 {
			sleepCtx(ctx, early)
			return 0, 0, errSkip
		}
		return st.dial(ctx)
	}
	if tr, ok := st.next(time.Now()); ok {
		return st.record(tr)
	}
	d := standbyIdle
	if left, ok := st.untilTimeout(time.Now()); ok && left < d {
		d = left
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-st.wake:
	case <-t.C:
	case <-ctx.Done():
		return 0, 0, errSkip
	}
	if tr, ok := st.next(time.Now()); ok {
		return st.record(tr)
	}
	return 0, 0, errSkip
}

// dial opens a new session, at most the connect timeout; its connect is recorded from
// the event callback's time of the session's establishment.
func (st *standbyState) dial(ctx context.Context) (time.Duration, int64, error) {
	start := time.Now()
	st.dialled = start
	st.mu.Lock()
	st.gen++
	g := st.gen
	st.setPhase(standbyConnecting, start)
	st.mu.Unlock()
	conn, err := dial(ctx, st.u.s, st.timeout, st.u.log, st.onEvent(g))
	if err != nil {
		// What the failed attempt's callback queued (a session that came as the wait
		// ran out, then lost to an addauth error) is not recorded: the failure is.
		st.mu.Lock()
		st.gen++
		st.setPhase(standbyIdlePhase, time.Now())
		kept := st.queue[:0]
		for _, tr := range st.queue {
			if tr.gen != g {
				kept = append(kept, tr)
			}
		}
		st.queue = kept
		st.mu.Unlock()
		return time.Since(start), 0, recordAs(ConnectMethod, err)
	}
	st.conn = conn
	if tr, ok := st.next(time.Now()); ok {
		return st.record(tr)
	}
	return 0, 0, errSkip
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// record returns a transition as the task's result, first giving up the connection
// if it says so.
func (st *standbyState) record(tr transition) (time.Duration, int64, error) {
	if tr.abandon && st.conn != nil {
		go st.conn.Close() // no session: go-zookeeper's Close would wait a second for nothing
		st.conn = nil
	}
	return tr.elapsed, 0, recordAs(tr.method, tr.err)
}

// setPhase enters phase p at t; st.mu is held.
func (st *standbyState) setPhase(p standbyPhase, t time.Time) {
	st.phase, st.since, st.timedOut = p, t, false
}

// onEvent returns the event callback of dial g: it runs in go-zookeeper's loops as each
// session event happens, and must not block.
func (st *standbyState) onEvent(g int) func(zk.Event) {
	return func(ev zk.Event) {
		if ev.Type != zk.EventSession {
			return
		}
		now := time.Now()
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.closed || g != st.gen {
			return
		}
		switch ev.State {
		case zk.StateHasSession:
			switch {
			case st.phase == standbyConnecting:
				st.push(transition{gen: g, method: ConnectMethod, elapsed: now.Sub(st.since)})
			case st.phase == standbyDisconnected && !st.timedOut:
				st.push(transition{gen: g, method: ReconnectMethod, elapsed: now.Sub(st.since)})
			}
			st.setPhase(standbyConnected, now)
		case zk.StateDisconnected:
			// go-zookeeper says disconnected after each failed attempt too: the loss is
			// the first one after connected.
			if st.phase == standbyConnected {
				st.setPhase(standbyDisconnected, now)
			}
		case zk.StateExpired:
			if st.phase == standbyDisconnected {
				st.push(transition{gen: g, method: ExpireMethod, elapsed: now.Sub(st.since), err: zk.ErrSessionExpired})
			}
			// go-zookeeper goes on with a new session at once: a connect from now.
			st.setPhase(standbyConnecting, now)
		}
	}
}

// push queues a transition and wakes the task; st.mu is held.
func (st *standbyState) push(tr transition) {
	st.queue = append(st.queue, tr)
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest queued transition, else a timeout that has come by now: a new
// session not established within the connect timeout (a connect failure, and the
// connection is given up), or a connection not back within it (a reconnect failure,
// once; the wait goes on).
func (st *standbyState) next(now time.Time) (transition, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.queue) > 0 {
		tr := st.queue[0]
		st.queue = st.queue[1:]
		return tr, true
	}
	if st.timedOut || now.Sub(st.since) < st.timeout {
		return transition{}, false
	}
	waited := now.Sub(st.since)
	switch st.phase {
	case standbyConnecting:
		state := zk.StateUnknown
		if st.conn != nil {
			state = st.conn.State()
		}
		st.gen++ // the given-up connection's events are ignored
		st.setPhase(standbyIdlePhase, now)
		return transition{method: ConnectMethod, elapsed: waited, abandon: true,
			err: &ConnectError{Servers: st.servers, Waited: waited, Limit: st.timeout, State: state}}, true
	case standbyDisconnected:
		st.timedOut = true
		return transition{method: ReconnectMethod, elapsed: waited,
			err: fmt.Errorf("zk: not connected again to %s within %s", st.servers, st.timeout)}, true
	}
	return transition{}, false
}

// untilTimeout is the time left before the current phase's timeout, if it has one.
func (st *standbyState) untilTimeout(now time.Time) (time.Duration, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.timedOut || (st.phase != standbyConnecting && st.phase != standbyDisconnected) {
		return 0, false
	}
	return max(st.since.Add(st.timeout).Sub(now), 0), true
}

// close ends the session when the user stops; later events are ignored.
func (st *standbyState) close() {
	st.mu.Lock()
	st.closed = true
	st.mu.Unlock()
	if st.conn == nil {
		return
	}
	if st.conn.State() == zk.StateHasSession {
		st.conn.Close() // tells the server: the session ends now, not at its timeout
	} else {
		go st.conn.Close()
	}
	st.conn = nil
}
