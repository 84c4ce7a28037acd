// Package transport is a worker's ZeroMQ link to a Locust master: one DEALER socket with
// the worker's node id as its identity, one msgpack frame per message.
//
// A ZeroMQ socket may only be used from one goroutine, so a Conn runs one loop that owns
// the socket: it sends queued frames without ever blocking, delivers received frames,
// and reports connection changes seen by a socket monitor. Nothing a caller does can
// block that loop, and a stuck or absent master never blocks a caller.
//
// Until a master answers, the loop says why not, in one line per retry period (the
// period doubles up to 30 s): the host does not resolve, nothing listens there (libzmq
// keeps trying every second), or what listens there is not a Locust master (it does not
// speak ZeroMQ; the socket is closed and reopened after the period, so that such a peer
// is never hammered and its bytes are never taken for messages).
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// Pacing of the attempts and the lines about them while no master answers.
const (
	// reconnectMax is libzmq's longest wait between two attempts to connect.
	reconnectMax = time.Second
	// handshakeTimeout is the default Options.HandshakeTimeout: a Locust master's
	// libzmq answers within a round trip.
	handshakeTimeout = 5 * time.Second
	// connectTimeout bounds a TCP connect that gets no answer (a firewall dropping it),
	// which the kernel would otherwise wait on for minutes before libzmq tries again.
	connectTimeout = 10 * time.Second
	// firstReport is how long the loop waits for a master before saying why there is
	// none; a master that is there answers well within it.
	firstReport = time.Second
	// retryMin and retryMax bound the retry period: the wait before reconnecting to a
	// peer that is not a master, and the gap between two lines about a master that is
	// not there. It doubles from retryMin at each line.
	retryMin = time.Second
	retryMax = 30 * time.Second
	// probeTimeout bounds the look-up and connection that find out why libzmq cannot
	// connect.
	probeTimeout = 3 * time.Second
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
	// HandshakeTimeout bounds the ZeroMQ handshake with a peer that accepted the
	// connection (default 5 s); a peer that does not complete it is not a master.
	HandshakeTimeout time.Duration
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

	// The master's host and port, for diagnostics ("" when Addr is not tcp://).
	host, hostPort string
	ipv6           bool // host is an IPv6 address
	probed         chan problem
	link           link // owned by the loop
}

// link is the loop's view of the connection to the master.
type link struct {
	connected bool      // a master completed the handshake
	tcpUp     time.Time // when the TCP connection being handshaken came up (zero: none)
	dialing   time.Time // when a TCP connect still unanswered started (zero: none)
	failure   string    // why that connection's handshake failed, if libzmq said
	refused   bool      // an attempt to connect failed since the last line about it
	probing   bool      // a probe is under way

	waitingSince time.Time     // since when no master has been connected
	nextReport   time.Time     // when to say again why there is no master
	period       time.Duration // the retry period
	reopenAt     time.Time     // with no socket: when to open one
}

// problem is what a probe found: why no connection can be made ("" if one can).
type problem struct {
	resolve bool // the host does not resolve
	why     string
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
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = handshakeTimeout
	}
	var host, hostPort string
	var ipv6 bool
	if rest, ok := strings.CutPrefix(opts.Addr, "tcp://"); ok {
		h, _, err := net.SplitHostPort(rest)
		if err != nil || h == "" {
			return nil, fmt.Errorf("transport: address %q: want tcp://HOST:PORT", opts.Addr)
		}
		host, hostPort = h, rest
		if a, err := netip.ParseAddr(h); err == nil && a.Is6() && !a.Is4In6() {
			ipv6 = true
		}
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
		host:    host, hostPort: hostPort, ipv6: ipv6,
		probed: make(chan problem, 1),
		link:   link{waitingSince: time.Now(), period: retryMin},
	}
	c.link.nextReport = c.link.waitingSince.Add(firstReport)
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
		_ = d.Monitor("", 0) // see closeWithMonitor
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
	_ = d.SetReconnectIvlMax(reconnectMax)
	if err := d.SetHandshakeIvl(c.opts.HandshakeTimeout); err != nil {
		return fail("set handshake interval", err)
	}
	_ = d.SetConnectTimeout(connectTimeout) // libzmq 4.2+
	// A ZAP domain makes libzmq refuse peers that do not open with a ZMTP 3 greeting
	// (it takes them for ZMTP 1.0 otherwise, and decodes whatever bytes they send, an
	// HTTP server's or a TLS server's, into frames). Nothing else changes: with no ZAP
	// handler in this context, and ZAP_ENFORCE_DOMAIN off, the NULL handshake with a
	// Locust master goes on as without it.
	if err := d.SetZapDomain("zkload"); err != nil {
		return fail("set ZAP domain", err)
	}
	if c.ipv6 {
		// Off by default (as in Locust's pyzmq): a host name then resolves to IPv4 only,
		// where a master listens by default. An IPv6 address needs it.
		if err := d.SetIpv6(true); err != nil {
			return fail("set IPv6", err)
		}
	}
	c.opened++ // open runs on one goroutine at a time: Dial, then the loop
	monAddr := fmt.Sprintf("inproc://zkload-monitor-%p-%d", c, c.opened)
	const watched = zmq.EVENT_CONNECT_DELAYED | zmq.EVENT_CONNECTED | zmq.EVENT_CLOSED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_HANDSHAKE_SUCCEEDED |
		zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL |
		zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_DISCONNECTED
	if err := d.Monitor(monAddr, watched); err != nil {
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

func (s *sockets) close() { s.closeLinger(0) }

// closeLinger closes the sockets, giving frames libzmq holds up to linger to leave; it
// does not wait for them.
func (s *sockets) closeLinger(linger time.Duration) {
	_ = s.dealer.SetLinger(linger)
	s.closeWithMonitor()
}

// closeWithMonitor stops the monitor before closing the sockets: libzmq's I/O thread
// sends monitor events with a blocking send, so an event (the closing connection's)
// sent after the reading end is gone blocks that thread for good, and with it every
// later socket of the context (libzmq issue 3575).
func (s *sockets) closeWithMonitor() {
	_ = s.dealer.Monitor("", 0)
	_ = s.dealer.Close()
	_ = s.monitor.Close()
}

// reconnectPause is the wait between closing a socket and opening its replacement, on
// a master's "reconnect"; reconnectLinger, shorter, is how long the old socket may
// still send what it holds.
const (
	reconnectPause  = 300 * time.Millisecond
	reconnectLinger = 100 * time.Millisecond
)

// pollInterval bounds how long a queued frame waits for the loop to notice it.
const pollInterval = 2 * time.Millisecond

func (c *Conn) loop(s *sockets) {
	defer close(c.done)
	defer close(c.in)
	probeCtx, stopProbe := context.WithCancel(context.Background())
	defer stopProbe()
	var pending [][]byte // frames taken from c.out that wait for a connection
	for {
		select {
		case linger := <-c.closing:
			c.finish(s, pending, linger)
			return
		case <-c.reconn:
			c.log.Info("reconnecting to master", "addr", c.opts.Addr)
			if s != nil {
				// The master asking for this still knows the worker: what is queued
				// (a stats report, say) is for it, so it stays queued for the new socket,
				// and what libzmq holds already gets a moment to leave. That moment is
				// shorter than the pause below, so that the old connection is gone when
				// the new one claims the same identity.
				s.closeLinger(reconnectLinger)
				s = nil
			}
			// The caller knows: no Disconnected, and Connected again with the new socket.
			c.link.connected = false
			c.lost()
			// A ROUTER ignores a connection claiming an identity it still holds, so the
			// new socket waits for the master to notice that the old one is gone.
			c.link.reopenAt = time.Now().Add(reconnectPause)
		case p := <-c.probed:
			c.link.probing = false
			c.report(p)
		default:
		}
		if s == nil {
			if wait := time.Until(c.link.reopenAt); wait > 0 {
				t := time.NewTimer(min(wait, 50*time.Millisecond))
				select {
				case linger := <-c.closing:
					t.Stop()
					c.finish(nil, pending, linger)
					return
				case <-c.reconn:
					c.reconn <- struct{}{} // handled at the top
				case <-t.C:
				}
				t.Stop()
				continue
			}
			ns, err := c.open()
			if err != nil {
				c.loopErr = err
				c.log.Error("reconnect failed", "err", err)
				_ = c.zctx.Term()
				return
			}
			s = ns
			c.link.tcpUp, c.link.dialing, c.link.failure = time.Time{}, time.Time{}, ""
		}
		pending = c.flush(s, pending)
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
		notMaster := ""
		for _, p := range polled {
			switch p.Socket {
			case s.monitor:
				for {
					ev, _, value, err := s.monitor.RecvEvent(zmq.DONTWAIT)
					if err != nil {
						break
					}
					lost, why := c.monitorEvent(ev, value)
					if lost {
						pending = c.drop(pending)
						c.lost()
						c.emit(Disconnected)
					}
					if why != "" && notMaster == "" {
						notMaster = why
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
						c.finish(s, pending, linger)
						return
					}
				}
			}
		}
		if notMaster != "" {
			// libzmq gives up on a peer that broke the protocol, and reconnects at once
			// to one that closed or timed out: either way, a new socket after the period.
			s.close()
			s = nil
			pending = c.drop(pending)
			c.link.reopenAt = time.Now().Add(c.link.period)
			c.log.Warn(fmt.Sprintf("%s is not a Locust master: %s; retrying in %s", c.hostPort, notMaster, c.link.period))
			c.link.period = min(2*c.link.period, retryMax)
			c.link.nextReport = c.link.reopenAt.Add(firstReport)
			c.link.refused = false
			continue
		}
		c.maybeProbe(probeCtx)
	}
}

// monitorEvent updates the link for one monitor event. It reports whether the master
// was lost, and why the peer is not a Locust master when the event shows it.
func (c *Conn) monitorEvent(ev zmq.Event, value int) (lost bool, notMaster string) {
	l := &c.link
	switch {
	case ev&zmq.EVENT_CONNECT_DELAYED != 0:
		l.dialing = time.Now()
	case ev&zmq.EVENT_CLOSED != 0:
		l.dialing = time.Time{}
	case ev&zmq.EVENT_CONNECTED != 0:
		l.tcpUp, l.failure, l.dialing = time.Now(), "", time.Time{}
	case ev&zmq.EVENT_CONNECT_RETRIED != 0:
		l.refused, l.dialing = true, time.Time{}
	case ev&zmq.EVENT_HANDSHAKE_SUCCEEDED != 0:
		if !l.connected {
			l.connected = true
			l.tcpUp, l.failure, l.refused = time.Time{}, "", false
			l.period = retryMin
			c.emit(Connected)
		}
	case ev&zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL != 0:
		l.failure = "the ZeroMQ handshake failed (" + protocolError(value) + ")"
	case ev&zmq.EVENT_HANDSHAKE_FAILED_AUTH != 0:
		l.failure = fmt.Sprintf("it refused the ZeroMQ handshake (status %d)", value)
	case ev&zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL != 0:
		if l.tcpUp.IsZero() || l.failure != "" {
			break
		}
		if hs := c.opts.HandshakeTimeout; time.Since(l.tcpUp) >= hs-hs/10 {
			l.failure = fmt.Sprintf("it accepted the connection but sent no ZeroMQ greeting within %s", hs)
		} else {
			l.failure = "it closed the connection during the ZeroMQ handshake"
		}
	case ev&zmq.EVENT_DISCONNECTED != 0:
		if l.connected {
			l.connected, l.tcpUp = false, time.Time{}
			return true, ""
		}
		if l.tcpUp.IsZero() {
			return false, ""
		}
		// The connection ended before the handshake completed.
		why := l.failure
		if why == "" {
			why = "it does not speak ZeroMQ (its first bytes are not a ZMTP 3 greeting)"
		}
		l.tcpUp, l.failure = time.Time{}, ""
		return false, why
	}
	return false, ""
}

// lost starts a wait for a master.
func (c *Conn) lost() {
	now := time.Now()
	c.link.waitingSince = now
	c.link.nextReport = now.Add(firstReport)
	c.link.refused = false
}

// maybeProbe starts a probe when it is time to say why libzmq cannot connect.
func (c *Conn) maybeProbe(ctx context.Context) {
	l := &c.link
	now := time.Now()
	stuck := !l.dialing.IsZero() && now.Sub(l.dialing) >= firstReport // no answer to a connect
	if l.connected || !(l.refused || stuck) || l.probing || now.Before(l.nextReport) {
		return
	}
	l.refused = false
	if c.hostPort == "" {
		c.report(problem{why: "cannot connect"})
		return
	}
	l.probing = true
	network := "tcp4" // as libzmq, with IPv6 off, connects
	if c.ipv6 {
		network = "tcp6"
	}
	go func() {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		c.probed <- probe(ctx, network, c.hostPort)
	}()
}

// report logs what a probe found, and when to probe next.
func (c *Conn) report(p problem) {
	l := &c.link
	if l.connected {
		return
	}
	if p.why == "" { // a connection can be made: a master may just have come up
		l.nextReport = time.Now().Add(l.period)
		return
	}
	waited := time.Since(l.waitingSince).Round(time.Second)
	if p.resolve {
		c.log.Warn(fmt.Sprintf("cannot resolve master host %s (%s); retrying every %s", c.host, p.why, reconnectMax), "waited", waited)
	} else {
		c.log.Warn(fmt.Sprintf("no Locust master at %s yet (%s); retrying every %s", c.addrText(), p.why, reconnectMax), "waited", waited)
	}
	l.period = min(2*l.period, retryMax)
	l.nextReport = time.Now().Add(l.period)
}

func (c *Conn) addrText() string {
	if c.hostPort != "" {
		return c.hostPort
	}
	return c.opts.Addr
}

// probe finds out why no TCP connection to hostPort can be made, as libzmq would make
// it: the host does not resolve, or the connection fails. A connection that succeeds
// (a master may just have come up) is closed at once, and the problem is empty.
func probe(ctx context.Context, network, hostPort string) problem {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, hostPort)
	if err == nil {
		conn.Close()
		return problem{}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return problem{resolve: true, why: dnsErr.Err}
	}
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) {
		return problem{resolve: true, why: addrErr.Err}
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return problem{why: "connection refused"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return problem{why: "connection timed out"}
	case errors.As(err, &errno):
		return problem{why: errno.Error()}
	}
	return problem{why: err.Error()}
}

// protocolError names a ZMQ_PROTOCOL_ERROR_* code.
func protocolError(code int) string {
	switch code {
	case 0x11000002:
		return "security mechanism mismatch: Locust masters use none"
	case 0x10000001:
		return "unexpected command"
	case 0x10000002:
		return "invalid sequence"
	}
	switch code >> 28 {
	case 1:
		return fmt.Sprintf("ZMTP error 0x%x", code)
	case 2:
		return fmt.Sprintf("ZAP error 0x%x", code)
	}
	return fmt.Sprintf("protocol error 0x%x", code)
}

// drop counts the frames waiting for a connection that is gone and drops them: they are
// never delivered to whatever master comes next.
func (c *Conn) drop(pending [][]byte) [][]byte {
	if n := len(pending) + len(c.out); n > 0 {
		c.dropped.Add(int64(n))
	}
	c.drainOut()
	return pending[:0]
}

// flush sends queued frames without blocking and returns those still waiting.
func (c *Conn) flush(s *sockets, pending [][]byte) [][]byte {
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
	if len(pending) == 0 || s == nil {
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
// s is nil when no socket is open (waiting to retry a peer that is not a master).
func (c *Conn) finish(s *sockets, pending [][]byte, linger time.Duration) {
	deadline := time.Now().Add(linger)
	for s != nil {
		pending = c.flush(s, pending)
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(pollInterval)
	}
	if s == nil {
		pending = c.drop(pending)
	}
	if len(pending) > 0 {
		c.dropped.Add(int64(len(pending)))
	}
	left := time.Until(deadline)
	if left < 0 || s == nil {
		left = 0
	}
	if s != nil {
		_ = s.dealer.SetLinger(left)
		s.closeWithMonitor()
	}
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
