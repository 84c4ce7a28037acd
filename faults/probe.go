package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Probe is the client-visible half of a failover's measure: one ZooKeeper session of
// the dispatcher's own, over the whole ensemble, that writes a node of its own after
// every fault until a write succeeds. A write cannot succeed until a leader has a
// quorum again and the probe's session is connected to a member that follows it, so
// the time to its first success is what a client that writes sees, not only the polled
// election. The load's users measure the same from their side, to the second.
type Probe struct {
	conn *zk.Conn
	path string
	log  *slog.Logger

	mu   sync.Mutex // guards gone
	gone bool
}

// probeRetry is the pause after a failed write: the probe's resolution, as the poll's.
const probeRetry = 10 * time.Millisecond

// NewProbe opens the probe's session on servers and creates its node, /zkload-probe-N.
// An error means the ensemble does not take the probe's writes (an ACL, SASL...): the
// dispatcher runs without it.
func NewProbe(ctx context.Context, servers []string, log *slog.Logger) (*Probe, error) {
	const sessionTimeout = 10 * time.Second
	conn, events, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(quietZK{}),
		zk.WithDialer(boundedHandshake(sessionTimeout/time.Duration(max(len(servers), 1)))))
	if err != nil {
		return nil, fmt.Errorf("write probe: %w", err)
	}
	p := &Probe{conn: conn, path: "/zkload-probe-" + strconv.FormatUint(rand.Uint64()%1e9, 10), log: log}
	go func() {
		for range events { // drained, so that the client never blocks on them
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.write(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("write probe %s: %w", p.path, err)
	}
	return p, nil
}

// boundedHandshake is a dialer whose connections bound the wait for a member's answer
// to a new session at limit, as ZooKeeper's Java client does (the session timeout over
// the number of servers). go-zookeeper waits ten times its receive timeout (67 s for a
// 10 s session): a probe that reconnected to a paused member (SIGSTOP: the kernel
// accepts the connection, nothing answers) would wait that long before trying another
// member, and time go-zookeeper, not the ensemble.
func boundedHandshake(limit time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &handshakeConn{Conn: c, limit: limit}, nil
	}
}

// handshakeConn bounds the first read deadline set on it, the one go-zookeeper sets
// for the answer to its connect request; later ones (its receive loop's) are its own.
type handshakeConn struct {
	net.Conn
	limit time.Duration
	set   atomic.Bool
}

func (c *handshakeConn) SetReadDeadline(t time.Time) error {
	if !c.set.Swap(true) {
		if bound := time.Now().Add(c.limit); t.IsZero() || t.After(bound) {
			t = bound
		}
	}
	return c.Conn.SetReadDeadline(t)
}

// FirstWrite writes until a write succeeds, from now on, and returns when it did; the
// zero time if ctx ends first.
func (p *Probe) FirstWrite(ctx context.Context) time.Time {
	for {
		if err := p.write(ctx); err == nil {
			return time.Now()
		}
		if !sleep(ctx, probeRetry) {
			return time.Time{}
		}
	}
}

// write sets the probe's node, creating it if it is missing. A write that outlives ctx
// is abandoned (its session's timeout ends it).
func (p *Probe) write(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		_, err := p.conn.Set(p.path, []byte("probe"), -1)
		if errors.Is(err, zk.ErrNoNode) {
			_, err = p.conn.Create(p.path, []byte("probe"), 0, zk.WorldACL(zk.PermAll))
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close deletes the probe's node (if the ensemble still takes writes) and ends its session.
func (p *Probe) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone {
		return
	}
	p.gone = true
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.conn.Delete(p.path, -1)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	p.conn.Close()
}

// quietZK drops go-zookeeper's own log lines: a probe's reconnections during a fault
// are expected, and the timeline says what happened.
type quietZK struct{}

func (quietZK) Printf(string, ...any) {}
