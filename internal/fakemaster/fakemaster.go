// Package fakemaster is a scriptable stand-in for a Locust master, for testing a worker
// against behaviour that only masters newer than Debian's 2.12.1 show (master
// heartbeats, spawning_complete to workers, float stop_timeout, update_user_class,
// unknown message types) and against faults (silence, restarts, reconnect, garbage).
//
// It binds a ZeroMQ ROUTER on 127.0.0.1, as a real master does, and records every
// frame it receives. Frames it sends are byte-for-byte what Locust's
// msgpack.dumps((type, data, node_id)) produces for the same Python values (see Encode
// and the tests comparing against locust.rpc.protocol.Message.serialize).
//
// One goroutine owns the socket (ZeroMQ sockets are not thread-safe); every method may
// be called from any goroutine. Methods named Must* fail the test given to Start and,
// like t.Fatal, must be called from the test's goroutine.
package fakemaster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zkload/zkload/boomer/wire"
)

// Received is one message the master received from a worker.
type Received struct {
	// Identity is the ZeroMQ routing id of the sender (the worker's node id).
	Identity string
	// Frames are all frames as received, the identity frame first. A well-formed
	// message has exactly two.
	Frames [][]byte
	// Payload is the last frame: the msgpack message.
	Payload []byte
	// Msg is the decoded payload; valid only if Err is nil.
	Msg wire.Message
	// Err is set if the message is malformed: not exactly [identity, payload], or a
	// payload wire.Decode rejects (or panics on).
	Err error
	At  time.Time
}

func (r Received) String() string {
	if r.Err != nil {
		return fmt.Sprintf("%s: malformed (%v): %x", r.Identity, r.Err, r.Payload)
	}
	return fmt.Sprintf("%s: %s %v", r.Identity, r.Msg.Type, r.Msg.Data)
}

// Options configures NewWithOptions.
type Options struct {
	// Port to bind on 127.0.0.1; 0 picks a free one.
	Port int
	// Mandatory makes Send fail for an identity that is not connected (ROUTER_MANDATORY).
	// Real masters don't set it: their frames to unknown workers are silently dropped.
	Mandatory bool
	// AutoHeartbeat answers every heartbeat from an acked identity with a master
	// heartbeat (nil data), as masters since 2.19 do. See SetAutoHeartbeat.
	AutoHeartbeat bool
}

// Master is a fake Locust master.
type Master struct {
	// Port is the bound port on 127.0.0.1; Endpoint is "tcp://127.0.0.1:<Port>".
	Port     int
	Endpoint string

	t       testing.TB
	zctx    *zmq.Context
	out     chan outgoing
	quit    chan struct{}
	done    chan struct{}
	autoHB  atomic.Bool
	closeMu sync.Mutex
	closed  bool

	mu       sync.Mutex
	log      []Received
	consumed []bool        // per log entry: returned by Recv/Expect or skipped by Expect
	next     int           // first unconsumed entry
	changed  chan struct{} // closed and replaced on every append
	indexes  map[string]int
	acked    map[string]bool
}

type outgoing struct {
	frames [][]byte
	result chan error
}

// ErrClosed is returned by methods of a closed Master.
var ErrClosed = errors.New("fakemaster: closed")

// Start binds a fake master on 127.0.0.1:port (0: a free port) and closes it at test
// cleanup. Must* methods fail t.
func Start(t testing.TB, port int) *Master {
	t.Helper()
	return StartWithOptions(t, Options{Port: port})
}

// StartWithOptions is Start with every option.
func StartWithOptions(t testing.TB, o Options) *Master {
	t.Helper()
	m, err := NewWithOptions(o)
	if err != nil {
		t.Fatalf("fakemaster: %v", err)
	}
	m.t = t
	t.Cleanup(func() { m.Close() })
	return m
}

// New binds a fake master without a test (Must* methods then panic); call Close.
func New(port int) (*Master, error) { return NewWithOptions(Options{Port: port}) }

// NewWithOptions is New with every option.
func NewWithOptions(o Options) (*Master, error) {
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, err
	}
	sock, err := zctx.NewSocket(zmq.ROUTER)
	if err == nil {
		err = sock.SetLinger(0)
	}
	if err == nil && o.Mandatory {
		err = sock.SetRouterMandatory(1)
	}
	if err != nil {
		zctx.Term()
		return nil, err
	}
	addr := "tcp://127.0.0.1:*"
	if o.Port != 0 {
		addr = "tcp://127.0.0.1:" + strconv.Itoa(o.Port)
	}
	// A port just released by a closed master may take a moment to be free again.
	deadline := time.Now().Add(3 * time.Second)
	for {
		err = sock.Bind(addr)
		if err == nil || !errors.Is(err, zmq.Errno(syscall.EADDRINUSE)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		sock.Close()
		zctx.Term()
		return nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	ep, err := sock.GetLastEndpoint()
	if err != nil {
		sock.Close()
		zctx.Term()
		return nil, err
	}
	port, err := strconv.Atoi(ep[strings.LastIndexByte(ep, ':')+1:])
	if err != nil {
		sock.Close()
		zctx.Term()
		return nil, fmt.Errorf("endpoint %q: %w", ep, err)
	}
	m := &Master{
		Port: port, Endpoint: fmt.Sprintf("tcp://127.0.0.1:%d", port),
		zctx: zctx, out: make(chan outgoing), quit: make(chan struct{}), done: make(chan struct{}),
		changed: make(chan struct{}), indexes: map[string]int{}, acked: map[string]bool{},
	}
	m.autoHB.Store(o.AutoHeartbeat)
	go m.loop(sock)
	return m, nil
}

// loop owns the socket: it sends what Send queues and records what arrives.
func (m *Master) loop(sock *zmq.Socket) {
	defer close(m.done)
	defer sock.Close()
	poller := zmq.NewPoller()
	poller.Add(sock, zmq.POLLIN)
	for {
		select {
		case <-m.quit:
			return
		case o := <-m.out:
			_, err := sock.SendMessageDontwait(o.frames)
			o.result <- err
			continue
		default:
		}
		polled, err := poller.Poll(5 * time.Millisecond)
		if err != nil || len(polled) == 0 {
			continue
		}
		for {
			frames, err := sock.RecvMessageBytes(zmq.DONTWAIT)
			if err != nil {
				break
			}
			r := m.record(frames)
			if r.Err == nil && r.Msg.Type == wire.TypeHeartbeat && m.autoHB.Load() && m.isAcked(r.Identity) {
				if b, err := Encode(wire.Message{Type: wire.TypeHeartbeat, NodeID: r.Identity}); err == nil {
					sock.SendMessageDontwait([]byte(r.Identity), b)
				}
			}
		}
	}
}

func (m *Master) record(frames [][]byte) Received {
	r := Received{Frames: frames, At: time.Now()}
	if len(frames) > 0 {
		r.Identity = string(frames[0])
		r.Payload = frames[len(frames)-1]
	}
	if len(frames) != 2 {
		r.Err = fmt.Errorf("%d frames, want [identity, payload]", len(frames))
	} else {
		r.Msg, r.Err = safeDecode(r.Payload)
	}
	m.mu.Lock()
	m.log = append(m.log, r)
	m.consumed = append(m.consumed, false)
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
	return r
}

func safeDecode(b []byte) (msg wire.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wire.Decode panicked: %v", p)
		}
	}()
	return wire.Decode(b)
}

// Close stops the master and releases its port (it can be bound again at once, e.g. by
// Start(t, oldPort) to simulate a master restart). Closing twice is fine.
func (m *Master) Close() error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	close(m.quit)
	<-m.done
	return m.zctx.Term()
}

// Send sends msg to the worker with this identity, encoded as a real master encodes it
// (see Encode). An empty msg.NodeID is set to identity, as Locust addresses every
// message with the target's id. Without Options.Mandatory, a message to an unknown
// identity is silently dropped, as by a real master.
func (m *Master) Send(identity string, msg wire.Message) error {
	if msg.NodeID == "" {
		msg.NodeID = identity
	}
	b, err := Encode(msg)
	if err != nil {
		return err
	}
	return m.SendFrames([]byte(identity), b)
}

// SendRaw sends payload as the one message frame to identity.
func (m *Master) SendRaw(identity string, payload []byte) error {
	return m.SendFrames([]byte(identity), payload)
}

// SendFrames sends arbitrary frames through the ROUTER; the first must be the target's
// identity and the rest reach the worker (e.g. an extra empty delimiter frame).
func (m *Master) SendFrames(frames ...[]byte) error {
	if len(frames) < 2 {
		return fmt.Errorf("fakemaster: need an identity frame and at least one more")
	}
	res := make(chan error, 1)
	select {
	case m.out <- outgoing{frames: frames, result: res}:
	case <-m.done:
		return ErrClosed
	}
	select {
	case err := <-res:
		return err
	case <-m.done:
		return ErrClosed
	}
}

// Broadcast sends msg to every identity that was acked, each addressed with its own
// node id, as Locust's send_message without a client id does.
func (m *Master) Broadcast(msg wire.Message) error {
	for _, id := range m.AckedIdentities() {
		msg.NodeID = id
		if err := m.Send(id, msg); err != nil {
			return err
		}
	}
	return nil
}

// SetAutoHeartbeat turns the automatic master heartbeats on or off (e.g. off to make a
// worker believe its master died while the socket stays up).
func (m *Master) SetAutoHeartbeat(on bool) { m.autoHB.Store(on) }

// Recv returns the next received message not yet returned by Recv or consumed by
// Expect (malformed ones included, with Err set), waiting until one arrives or ctx ends.
func (m *Master) Recv(ctx context.Context) (Received, error) {
	return m.take(ctx, "a message", func(Received) bool { return true }, true)
}

// Expect returns the next well-formed message of type typ, skipping (and consuming)
// others before it; everything stays in the log (Received).
func (m *Master) Expect(ctx context.Context, typ string) (Received, error) {
	return m.take(ctx, typ, func(r Received) bool { return r.Err == nil && r.Msg.Type == typ }, true)
}

// ExpectFrom returns the next well-formed message of type typ from identity. Unlike
// Expect it consumes nothing else, so messages from other workers (or of other types)
// are left for later Recv/Expect calls.
func (m *Master) ExpectFrom(ctx context.Context, identity, typ string) (Received, error) {
	return m.take(ctx, typ+" from "+identity, func(r Received) bool {
		return r.Err == nil && r.Identity == identity && r.Msg.Type == typ
	}, false)
}

// take consumes the first unconsumed message that matches, optionally consuming the
// unmatched ones before it.
func (m *Master) take(ctx context.Context, what string, match func(Received) bool, consumeSkipped bool) (Received, error) {
	for {
		m.mu.Lock()
		for i := m.next; i < len(m.log); i++ {
			if m.consumed[i] {
				continue
			}
			if match(m.log[i]) {
				m.consumed[i] = true
				r := m.log[i]
				m.advance()
				m.mu.Unlock()
				return r, nil
			}
			if consumeSkipped {
				m.consumed[i] = true
			}
		}
		m.advance()
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return Received{}, fmt.Errorf("fakemaster: waiting for %s: %w", what, ctx.Err())
		case <-m.done:
			return Received{}, ErrClosed
		case <-ch:
		}
	}
}

// advance moves next past consumed messages; m.mu must be held.
func (m *Master) advance() {
	for m.next < len(m.log) && m.consumed[m.next] {
		m.next++
	}
}

// Received returns everything received so far, in order.
func (m *Master) Received() []Received {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Received(nil), m.log...)
}

// Count is the number of well-formed messages of type typ received so far.
func (m *Master) Count(typ string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.log {
		if r.Err == nil && r.Msg.Type == typ {
			n++
		}
	}
	return n
}

// Malformed returns the malformed messages received so far.
func (m *Master) Malformed() []Received {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Received
	for _, r := range m.log {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}

// AckWorker waits for the next client_ready and answers it with an ack, as a real
// master does: the index is a 0-based ordinal per identity, stable for this Master's
// lifetime. It returns the client_ready and the index sent.
func (m *Master) AckWorker(ctx context.Context) (Received, int, error) {
	r, err := m.Expect(ctx, wire.TypeClientReady)
	if err != nil {
		return r, 0, err
	}
	idx := m.Ack(r.Identity)
	return r, idx, m.Send(r.Identity, Ack(idx))
}

// Ack registers identity as a known worker (for Broadcast and AutoHeartbeat) and
// returns its index, without sending anything.
func (m *Master) Ack(identity string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	idx, ok := m.indexes[identity]
	if !ok {
		idx = len(m.indexes)
		m.indexes[identity] = idx
	}
	m.acked[identity] = true
	return idx
}

// Forget removes identity from the known workers (a real master does this on
// client_stopped, quit, or after a long heartbeat silence).
func (m *Master) Forget(identity string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.acked, identity)
}

func (m *Master) isAcked(identity string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.acked[identity]
}

// AckedIdentities lists the known workers in index order.
func (m *Master) AckedIdentities() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, len(m.indexes))
	n := 0
	for id, i := range m.indexes {
		if m.acked[id] {
			out[i] = id
			n++
		}
	}
	ids := out[:0]
	for _, id := range out {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// MustRecv is Recv with a timeout that fails the test.
func (m *Master) MustRecv(timeout time.Duration) Received {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := m.Recv(ctx)
	if err != nil {
		m.t.Fatalf("fakemaster: nothing received within %v: %v\n%s", timeout, err, m.history())
	}
	return r
}

// MustExpect is Expect with a timeout that fails the test.
func (m *Master) MustExpect(typ string, timeout time.Duration) Received {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := m.Expect(ctx, typ)
	if err != nil {
		m.t.Fatalf("fakemaster: no %s within %v: %v\n%s", typ, timeout, err, m.history())
	}
	return r
}

// MustAckWorker is AckWorker with a timeout that fails the test; it returns the
// worker's identity and index.
func (m *Master) MustAckWorker(timeout time.Duration) (string, int) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, idx, err := m.AckWorker(ctx)
	if err != nil {
		m.t.Fatalf("fakemaster: no worker to ack within %v: %v\n%s", timeout, err, m.history())
	}
	return r.Identity, idx
}

// MustSend is Send that fails the test on error.
func (m *Master) MustSend(identity string, msg wire.Message) {
	m.t.Helper()
	if err := m.Send(identity, msg); err != nil {
		m.t.Fatalf("fakemaster: send %s to %s: %v", msg.Type, identity, err)
	}
}

// history summarises the last received messages for failure messages.
func (m *Master) history() string {
	rs := m.Received()
	var b strings.Builder
	fmt.Fprintf(&b, "fakemaster received %d messages", len(rs))
	if len(rs) > 20 {
		b.WriteString(" (last 20)")
		rs = rs[len(rs)-20:]
	}
	b.WriteString(":")
	for _, r := range rs {
		s := r.String()
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		fmt.Fprintf(&b, "\n  %s %s", r.At.Format("15:04:05.000"), s)
	}
	return b.String()
}
