// Package transport is a worker's ZeroMQ link to a Locust master: one DEALER socket with
// the worker's node id as its identity, one msgpack frame per message.
//
// A ZeroMQ socket may only be used from one goroutine, so a Conn runs one loop that owns
// the socket: it sends queued frames without ever blocking, delivers received frames,
// and reports connection changes seen by a socket monitor. Nothing a caller does can
// block that loop, and a stuck or absent master never blocks a caller.
package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// Event is a change of the link to the master.
type Event int

const (
	// Connected: a ZMTP handshake with the master completed; frames can flow.
	Connected Event = iota + 1
	// Disconnected: the master went away (process ended or link broke). Frames queued
	// before it are dropped, never delivered to whatever master comes next.
	Disconnected
)

func (e Event) String() string {
	switch e {
	case Connected:
		return "connected"
	case Disconnected:
		return "disconnected"
	}
	return fmt.Sprintf("event(%d)", int(e))
}

// Options configures a Conn.
type Options struct {
	// Addr is the master's endpoint, e.g. "tcp://127.0.0.1:5557".
	Addr string
	// Identity is the worker's node id, sent as the ZeroMQ routing id.
	Identity string
	// SendQueue bounds the frames waiting to be sent (default 4096); beyond it Send fails.
	SendQueue int
	// Logger receives transport diagnostics (default slog.Default()).
	Logger *slog.Logger
}

// ErrQueueFull is returned by Send when the send queue is full (the master is not
// accepting frames fast enough).
var ErrQueueFull = errors.New("transport: send queue full")

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("transport: closed")

// Conn is a link to a Locust master. Its methods are safe for concurrent use.
type Conn struct {
	opts    Options
	log     *slog.Logger
	zctx    *zmq.Context
	out     chan []byte
	in      chan []byte
	events  chan Event
	reconn  chan struct{}
	done    chan struct{}
	closing chan time.Duration
	closed  atomic.Bool
	dropped atomic.Int64
	loopErr error
	closeMu sync.Mutex
	opened  int // sockets opened so far, to name each monitor uniquely
}

// Dial opens a DEALER socket to opts.Addr and starts the loop that owns it. It returns
// once the socket is set up; the connection itself is made (and remade) in the background.
func Dial(opts Options) (*Conn, error) {
	if opts.Identity == "" || len(opts.Identity) > 255 || opts.Identity[0] == 0 {
		return nil, fmt.Errorf("transport: identity %q must be 1-255 bytes, not starting with NUL", opts.Identity)
	}
	if opts.SendQueue <= 0 {
		opts.SendQueue = 4096
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, fmt.Errorf("transport: zmq context: %w", err)
	}
	c := &Conn{
		opts:    opts,
		log:     opts.Logger,
		zctx:    zctx,
		out:     make(chan []byte, opts.SendQueue),
		in:      make(chan []byte, 1024),
		events:  make(chan Event, 64),
		reconn:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		closing: make(chan time.Duration, 1),
	}
	s, err := c.open()
	if err != nil {
		_ = zctx.Term()
		return nil, err
	}
	go c.loop(s)
	return c, nil
}

// Recv delivers frames from the master, in order. It is closed when the Conn is closed.
func (c *Conn) Recv() <-chan []byte { return c.in }

// Events delivers link changes. Events are dropped, never blocking the link, if the
// receiver falls more than 64 behind.
func (c *Conn) Events() <-chan Event { return c.events }

// Dropped counts frames that could not be delivered because no master was connected.
func (c *Conn) Dropped() int64 { return c.dropped.Load() }

// Send queues a frame for the master and returns at once.
func (c *Conn) Send(frame []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	select {
	case c.out <- frame:
		return nil
	default:
		return ErrQueueFull
	}
}

// Reconnect closes the socket and opens a new one with the same identity, as Locust's
// workers do when the master sends "reconnect".
func (c *Conn) Reconnect() {
	select {
	case c.reconn <- struct{}{}:
	default:
	}
}

// Close sends what is queued, waits up to linger for it to leave, and releases the socket.
func (c *Conn) Close(linger time.Duration) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed.Swap(true) {
		<-c.done
		return c.loopErr
	}
	c.closing <- linger
	<-c.done
	return c.loopErr
}

type sockets struct {
	dealer  *zmq.Socket
	monitor *zmq.Socket
	poller  *zmq.Poller
}

func (c *Conn) open() (*sockets, error) {
	d, err := c.zctx.NewSocket(zmq.DEALER)
	if err != nil {
		return nil, fmt.Errorf("transport: dealer socket: %w", err)
	}
	fail := func(what string, err error) (*sockets, error) {
		d.Close()
		return nil, fmt.Errorf("transport: %s: %w", what, err)
	}
	if err := d.SetIdentity(c.opts.Identity); err != nil {
		return fail("set identity", err)
	}
	// Immediate: queue frames only on a completed connection. Without it, frames sent
	// while the master is down are queued and delivered to the next master, which
	// crashes on a spawning_complete from a worker it does not know.
	if err := d.SetImmediate(true); err != nil {
		return fail("set immediate", err)
	}
	_ = d.SetTcpKeepalive(1)
	_ = d.SetTcpKeepaliveIdle(30)
	_ = d.SetLinger(0)
	if err := d.SetReconnectIvl(100 * time.Millisecond); err != nil {
		return fail("set reconnect interval", err)
	}
	_ = d.SetReconnectIvlMax(time.Second)
	c.opened++ // open runs on one goroutine at a time: Dial, then the loop
	monAddr := fmt.Sprintf("inproc://zkload-monitor-%p-%d", c, c.opened)
	if err := d.Monitor(monAddr, zmq.EVENT_HANDSHAKE_SUCCEEDED|zmq.EVENT_DISCONNECTED); err != nil {
		return fail("monitor", err)
	}
	m, err := c.zctx.NewSocket(zmq.PAIR)
	if err != nil {
		return fail("monitor socket", err)
	}
	if err := m.Connect(monAddr); err != nil {
		m.Close()
		return fail("connect monitor", err)
	}
	if err := d.Connect(c.opts.Addr); err != nil {
		m.Close()
		return fail("connect "+c.opts.Addr, err)
	}
	p := zmq.NewPoller()
	p.Add(d, zmq.POLLIN)
	p.Add(m, zmq.POLLIN)
	return &sockets{dealer: d, monitor: m, poller: p}, nil
}

func (s *sockets) close() {
	_ = s.dealer.SetLinger(0)
	_ = s.dealer.Close()
	_ = s.monitor.Close()
}

// reconnectPause is the wait between closing a socket and opening its replacement.
const reconnectPause = 300 * time.Millisecond

// pollInterval bounds how long a queued frame waits for the loop to notice it.
const pollInterval = 2 * time.Millisecond

func (c *Conn) loop(s *sockets) {
	defer close(c.done)
	defer close(c.in)
	connected := false
	var pending [][]byte // frames taken from c.out that wait for a connection
	for {
		select {
		case linger := <-c.closing:
			c.finish(s, pending, connected, linger)
			return
		case <-c.reconn:
			c.log.Info("reconnecting to master", "addr", c.opts.Addr)
			s.close()
			// A ROUTER ignores a connection claiming an identity it still holds, so the
			// new socket waits for the master to notice that the old one is gone.
			time.Sleep(reconnectPause)
			ns, err := c.open()
			if err != nil {
				c.loopErr = err
				c.log.Error("reconnect failed", "err", err)
				_ = c.zctx.Term()
				return
			}
			s, connected, pending = ns, false, nil
		default:
		}
		pending = c.flush(s, pending, connected)
		polled, err := s.poller.Poll(pollInterval)
		if err != nil {
			if zmq.AsErrno(err) == zmq.Errno(4) { // EINTR
				continue
			}
			c.loopErr = fmt.Errorf("transport: poll: %w", err)
			c.log.Error("poll failed", "err", err)
			s.close()
			_ = c.zctx.Term()
			return
		}
		for _, p := range polled {
			switch p.Socket {
			case s.monitor:
				for {
					ev, _, _, err := s.monitor.RecvEvent(zmq.DONTWAIT)
					if err != nil {
						break
					}
					switch {
					case ev&zmq.EVENT_HANDSHAKE_SUCCEEDED != 0:
						connected = true
						c.emit(Connected)
					case ev&zmq.EVENT_DISCONNECTED != 0:
						connected = false
						if n := len(pending) + len(c.out); n > 0 {
							c.dropped.Add(int64(n))
						}
						pending = pending[:0]
						c.drainOut()
						c.emit(Disconnected)
					}
				}
			case s.dealer:
				for {
					frame, err := s.dealer.RecvBytes(zmq.DONTWAIT)
					if err != nil {
						break
					}
					select {
					case c.in <- frame:
					case linger := <-c.closing:
						c.finish(s, pending, connected, linger)
						return
					}
				}
			}
		}
	}
}

// flush sends queued frames without blocking and returns those still waiting.
func (c *Conn) flush(s *sockets, pending [][]byte, connected bool) [][]byte {
	// pending holds at most SendQueue frames: a master that stops reading fills it, then
	// c.out, and then Send fails fast instead of the worker's memory growing.
	for len(pending) < c.opts.SendQueue {
		select {
		case f := <-c.out:
			pending = append(pending, f)
			continue
		default:
		}
		break
	}
	if len(pending) == 0 {
		return pending
	}
	i := 0
	for ; i < len(pending); i++ {
		if _, err := s.dealer.SendBytes(pending[i], zmq.DONTWAIT); err != nil {
			break // no connection yet (immediate) or high-water mark: retry next turn
		}
	}
	n := copy(pending, pending[i:])
	return pending[:n]
}

func (c *Conn) drainOut() {
	for {
		select {
		case <-c.out:
		default:
			return
		}
	}
}

func (c *Conn) emit(e Event) {
	select {
	case c.events <- e:
	default:
		c.log.Warn("transport event dropped: receiver is behind", "event", e)
	}
}

// finish sends what is queued, lets libzmq deliver it for at most linger, then closes.
func (c *Conn) finish(s *sockets, pending [][]byte, connected bool, linger time.Duration) {
	deadline := time.Now().Add(linger)
	for {
		pending = c.flush(s, pending, connected)
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	if len(pending) > 0 {
		c.dropped.Add(int64(len(pending)))
	}
	left := time.Until(deadline)
	if left < 0 {
		left = 0
	}
	_ = s.dealer.SetLinger(left)
	_ = s.dealer.Close()
	_ = s.monitor.Close()
	done := make(chan struct{})
	go func() { _ = c.zctx.Term(); close(done) }()
	t := time.NewTimer(left + 100*time.Millisecond)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		c.log.Warn("transport: frames still unsent at close", "linger", linger)
	}
}
