package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// zkLogger sends go-zookeeper's log lines to slog at debug level.
type zkLogger struct{ log *slog.Logger }

func (l zkLogger) Printf(format string, a ...any) {
	if l.log != nil {
		l.log.Debug(fmt.Sprintf(format, a...), "component", "go-zookeeper")
	}
}

// Dial opens a ZooKeeper session with the settings' ensemble, timeout and credentials,
// and waits until the session is established (at most the session timeout, or ctx).
// onEvent, if set, sees every event as go-zookeeper's receive loop delivers it; it must
// not block. When there is no session in time, or ctx ends first, the error is a
// *ConnectError.
func Dial(ctx context.Context, s *Settings, log *slog.Logger, onEvent func(zk.Event)) (*zk.Conn, error) {
	return dial(ctx, s, s.SessionTimeout, log, onEvent)
}

// ConnectError is a session that was not established: in time (the session timeout),
// or before ctx ended (the run ended while the user was connecting).
type ConnectError struct {
	Servers string        // the ensemble, as the connect string lists it
	Waited  time.Duration // how long it waited
	Limit   time.Duration // the wait it was allowed
	State   zk.State      // the connection's last state
	// Last is the last failed attempt to open a connection (connection refused, ...);
	// nil if none failed (a server that accepts and then does not answer).
	Last error
	// Ctx is ctx's error when ctx ended first; nil when the wait ran out.
	Ctx error
}

func (e *ConnectError) Error() string {
	why := ""
	if e.Last != nil {
		why = ": " + e.Last.Error()
	} else {
		why = fmt.Sprintf(" (state %s)", e.State)
	}
	if e.Ctx != nil {
		// No duration: every user connecting when the run ended gives the same text.
		return "could not connect to " + e.Servers + " within the run" + why
	}
	return fmt.Sprintf("zk: no session with %s within %s%s", e.Servers, e.Limit, why)
}

// Unwrap is the last failed attempt and ctx's error: errors.Is(err, context.Canceled)
// holds for a wait cut short.
func (e *ConnectError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Last, e.Ctx} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// slowConnect is how long a healthy ensemble may take to give a session: a wait cut
// short by the run's end sooner than that, with no failed attempt, says nothing about
// the ensemble (a user started just before the end).
const slowConnect = time.Second

// CutShort reports whether the wait ended with the run and shows that the ensemble
// could not be reached: an attempt failed, or it waited longer than a healthy ensemble
// takes.
func (e *ConnectError) CutShort() bool {
	return e.Ctx != nil && (e.Last != nil || e.Waited >= slowConnect)
}

// dial is Dial waiting at most wait for the session.
func dial(ctx context.Context, s *Settings, wait time.Duration, log *slog.Logger, onEvent func(zk.Event)) (*zk.Conn, error) {
	start := time.Now()
	ready := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex // guards lastState and lastErr
	var lastState zk.State
	var lastErr error
	cb := func(ev zk.Event) {
		if ev.Type == zk.EventSession {
			mu.Lock()
			lastState = ev.State
			mu.Unlock()
			if ev.State == zk.StateHasSession {
				once.Do(func() { close(ready) })
			}
		}
		if onEvent != nil {
			onEvent(ev)
		}
	}
	var dialer zk.Dialer = net.DialTimeout
	if s.SASLUser != "" {
		dialer = saslDialer(s.SASLUser, s.SASLPassword)
	}
	// go-zookeeper only logs a failed attempt (at debug level here): keep the last one
	// for the error.
	remember := func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := dialer(network, address, timeout)
		if err != nil {
			mu.Lock()
			lastErr = err
			mu.Unlock()
		}
		return c, err
	}
	servers := strings.Join(s.Servers, ",")
	conn, _, err := zk.Connect(s.Servers, s.SessionTimeout, zk.WithEventCallback(cb),
		zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false), zk.WithDialer(remember))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", servers, err)
	}
	failed := func(ctxErr error) error {
		// Without a session go-zookeeper's Close waits a second for an answer that
		// will not come: the user, stopping, must not wait for it.
		go conn.Close()
		mu.Lock()
		defer mu.Unlock()
		return &ConnectError{Servers: servers, Waited: time.Since(start), Limit: wait, State: lastState, Last: lastErr, Ctx: ctxErr}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
		return nil, failed(ctx.Err())
	case <-t.C:
		return nil, failed(nil)
	}
	if s.Digest != "" {
		if err := conn.AddAuth("digest", []byte(s.Digest)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("addauth digest: %w", err)
		}
	}
	return conn, nil
}

// ACL is the ACL of the znodes the workloads create: creator-only when the session
// authenticates (digest or SASL), world-open otherwise (as zk-locust).
func ACL(s *Settings) []zk.ACL {
	if s.Digest != "" || s.SASLUser != "" {
		return zk.AuthACL(zk.PermAll)
	}
	return zk.WorldACL(zk.PermAll)
}

// EnsurePath creates path and its missing parents as persistent znodes with an empty
// value; existing ones are left alone.
func EnsurePath(conn *zk.Conn, path string, acl []zk.ACL) error {
	if path == "/" || path == "" {
		return nil
	}
	if ok, _, err := conn.Exists(path); err == nil && ok {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	cur := ""
	for _, p := range parts {
		cur += "/" + p
		_, err := conn.Create(cur, nil, 0, acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}
