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
// not block.
func Dial(ctx context.Context, s *Settings, log *slog.Logger, onEvent func(zk.Event)) (*zk.Conn, error) {
	return dial(ctx, s, s.SessionTimeout, log, onEvent)
}

// dial is Dial waiting at most wait for the session.
func dial(ctx context.Context, s *Settings, wait time.Duration, log *slog.Logger, onEvent func(zk.Event)) (*zk.Conn, error) {
	ready := make(chan struct{})
	var once sync.Once
	var lastMu sync.Mutex
	var lastState zk.State
	cb := func(ev zk.Event) {
		if ev.Type == zk.EventSession {
			lastMu.Lock()
			lastState = ev.State
			lastMu.Unlock()
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
	conn, _, err := zk.Connect(s.Servers, s.SessionTimeout, zk.WithEventCallback(cb),
		zk.WithLogger(zkLogger{log}), zk.WithLogInfo(false), zk.WithDialer(dialer))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(s.Servers, ","), err)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ready:
	case <-ctx.Done():
		conn.Close()
		return nil, ctx.Err()
	case <-t.C:
		conn.Close()
		lastMu.Lock()
		st := lastState
		lastMu.Unlock()
		return nil, fmt.Errorf("zk: no session with %s within %s (state %s)", strings.Join(s.Servers, ","), wait, st)
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
