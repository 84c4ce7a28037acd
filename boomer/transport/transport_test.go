package transport

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/internal/fakemaster"
)

// logBuf collects a Conn's log lines for the test to wait on.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the log lines matching re.
func (l *logBuf) lines(re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if rx.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

// wait waits until n lines match re and returns them.
func (l *logBuf) wait(t *testing.T, re string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if got := l.lines(re); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d log lines matching %q within %v; log:\n%s", n, re, timeout, l.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial opens a Conn to addr logging into a buffer, closed at the end of the test.
func dial(t *testing.T, addr string, handshake time.Duration) (*Conn, *logBuf) {
	t.Helper()
	logs := &logBuf{}
	c, err := Dial(Options{Addr: addr, Identity: "test_" + strconv.Itoa(rand.IntN(1e9)), HandshakeTimeout: handshake,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- c.Close(0) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("close: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("close did not return within 5 s")
		}
		if t.Failed() {
			t.Logf("transport log:\n%s", logs.String())
		}
	})
	return c, logs
}

// logTime is a log line's time= field.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	f := strings.Fields(line)
	if len(f) == 0 || !strings.HasPrefix(f[0], "time=") {
		t.Fatalf("no time in log line %q", line)
	}
	ts, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(f[0], "time="))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// quiet asserts that nothing reached the caller: no frames, no events.
func quiet(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case f := <-c.Recv():
		t.Errorf("a frame reached the caller: %q", f)
	case ev := <-c.Events():
		t.Errorf("an event reached the caller: %v", ev)
	default:
	}
}

// freePort is a port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitEvent(t *testing.T, c *Conn, want Event, timeout time.Duration) {
	t.Helper()
	select {
	case ev := <-c.Events():
		if ev != want {
			t.Fatalf("event %v, want %v", ev, want)
		}
	case <-time.After(timeout):
		t.Fatalf("no %v event within %v", want, timeout)
	}
}

// TestUnresolvableHostIsReported: a host that does not resolve is said to, naming it,
// within a few seconds, then again at a growing interval; nothing else is logged.
func TestUnresolvableHostIsReported(t *testing.T) {
	t.Parallel()
	c, logs := dial(t, "tcp://nonexistent.invalid:5557", 0)
	re := `level=WARN msg="cannot resolve master host nonexistent\.invalid \([^)]+\); retrying every 1s"`
	first := logs.wait(t, re, 1, 10*time.Second)[0]
	second := logs.wait(t, re, 2, 15*time.Second)[1]
	if gap := logTime(t, second).Sub(logTime(t, first)); gap < time.Second {
		t.Errorf("second line %v after the first, want the retry period (2 s) between them", gap)
	}
	if n := len(logs.lines(`level=(WARN|ERROR)`)); n != 2 {
		t.Errorf("%d warnings and errors, want the 2 lines", n)
	}
	quiet(t, c)
}

// TestNothingListeningThenAMaster: a port where nothing listens is said to be one, at a
// growing interval, and the master that comes up there later is connected to at once.
func TestNothingListeningThenAMaster(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	c, logs := dial(t, fmt.Sprintf("tcp://127.0.0.1:%d", port), 0)
	re := fmt.Sprintf(`level=WARN msg="no Locust master at 127\.0\.0\.1:%d yet \(connection refused\); retrying every 1s"`, port)
	lines := logs.wait(t, re, 2, 15*time.Second)
	if gap := logTime(t, lines[1]).Sub(logTime(t, lines[0])); gap < time.Second {
		t.Errorf("second line %v after the first, want the retry period (2 s) between them", gap)
	}
	quiet(t, c)
	fm := fakemaster.Start(t, port)
	waitEvent(t, c, Connected, 5*time.Second)
	frame, err := wire.Encode(wire.Message{Type: wire.TypeClientReady, Data: wire.ClientReadyVersion, NodeID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(frame); err != nil {
		t.Fatal(err)
	}
	fm.MustExpect(wire.TypeClientReady, 5*time.Second)
	n := len(logs.lines(re))
	time.Sleep(1500 * time.Millisecond) // past the next report: none once connected
	if m := len(logs.lines(re)); m != n {
		t.Errorf("%d more 'no Locust master' lines once connected", m-n)
	}
}

// peer is a TCP server that is not a Locust master; conns counts its connections.
type peer struct {
	port  int
	conns atomic.Int64
	close func()
}

// tcpPeer serves each connection with serve, on a fresh port.
func tcpPeer(t *testing.T, serve func(net.Conn)) *peer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{port: l.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			mu.Lock()
			open = append(open, conn)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); serve(conn) }()
		}
	}()
	var once sync.Once
	p.close = func() {
		once.Do(func() {
			l.Close()
			mu.Lock()
			for _, c := range open {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	t.Cleanup(p.close)
	return p
}

// garbage never starts with 0xff, so that libzmq takes it for ZMTP 1.0, whose frames
// it would decode.
func garbage(conn net.Conn) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 512)
	for {
		for i := range buf {
			buf[i] = byte(r.IntN(255))
		}
		buf[0] = 0x13
		if _, err := conn.Write(buf); err != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNotAMasterIsReportedAndRetriedSlowly: a peer that is not a Locust master (it
// sends garbage, speaks HTTP, says nothing, hangs up, or speaks ZeroMQ with another
// security mechanism) is said not to be one, why, and is retried once per retry period
// (which doubles); none of its bytes reach the caller. A master that replaces it is
// connected to.
func TestNotAMasterIsReportedAndRetriedSlowly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) *peer
		why   string
	}{
		{"garbage", func(t *testing.T) *peer { return tcpPeer(t, garbage) },
			`it does not speak ZeroMQ \(its first bytes are not a ZMTP 3 greeting\)`},
		{"http", func(t *testing.T) *peer {
			p := &peer{}
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					p.conns.Add(1)
				}
			}
			srv.Start()
			p.port, p.close = srv.Listener.Addr().(*net.TCPAddr).Port, srv.Close
			t.Cleanup(srv.Close)
			return p
		}, `it accepted the connection but sent no ZeroMQ greeting within 1s`},
		{"silent", func(t *testing.T) *peer {
			return tcpPeer(t, func(conn net.Conn) { _, _ = conn.Read(make([]byte, 1<<16)); _, _ = conn.Read(make([]byte, 1)) })
		}, `it accepted the connection but sent no ZeroMQ greeting within 1s`},
		{"hangs up", func(t *testing.T) *peer { return tcpPeer(t, func(conn net.Conn) { conn.Close() }) },
			`it closed the connection during the ZeroMQ handshake`},
		{"zeromq plain", func(t *testing.T) *peer { return plainPeer(t) },
			// Whichever side notices the mismatch first.
			`(?:the ZeroMQ handshake failed \(security mechanism mismatch: Locust masters use none\)|it closed the connection during the ZeroMQ handshake)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.start(t)
			c, logs := dial(t, fmt.Sprintf("tcp://127.0.0.1:%d", p.port), time.Second)
			re := fmt.Sprintf(`level=WARN msg="127\.0\.0\.1:%d is not a Locust master: %s; retrying in (\d+)s"`, p.port, tc.why)
			lines := logs.wait(t, re, 2, 20*time.Second)
			conns := p.conns.Load()
			if conns > 3 && tc.name != "zeromq plain" {
				t.Errorf("%d connections by the time of the second line, want 2 (one per retry period)", conns)
			}
			rx := regexp.MustCompile(re)
			if a, b := rx.FindStringSubmatch(lines[0])[1], rx.FindStringSubmatch(lines[1])[1]; a != "1" || b != "2" {
				t.Errorf("retrying in %ss, then in %ss; want 1s, then 2s", a, b)
			}
			if gap := logTime(t, lines[1]).Sub(logTime(t, lines[0])); gap < 900*time.Millisecond {
				t.Errorf("second attempt %v after the first, want the retry period (1 s)", gap)
			}
			if n := len(logs.lines(`level=(WARN|ERROR)`)); n > 3 {
				t.Errorf("%d warnings and errors, want one per attempt", n)
			}
			quiet(t, c)
			if tc.name != "garbage" {
				return
			}
			// A master comes up in its place.
			p.close()
			fm := fakemaster.Start(t, p.port)
			waitEvent(t, c, Connected, 15*time.Second)
			_ = fm
		})
	}
}

// plainPeer is a ZeroMQ ROUTER that wants the PLAIN security mechanism, where a Locust
// master has none (NULL).
func plainPeer(t *testing.T) *peer {
	t.Helper()
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	r, err := zctx.NewSocket(zmq.ROUTER)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.SetLinger(0)
	if err := r.SetPlainServer(1); err != nil {
		t.Fatal(err)
	}
	if err := r.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ep, err := r.GetLastEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(ep[strings.LastIndexByte(ep, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	p := &peer{port: port}
	p.close = func() { once.Do(func() { r.Close(); zctx.Term() }) }
	t.Cleanup(p.close)
	return p
}

// TestDialRefusesABadAddress: an address the loop could not diagnose is an error.
func TestDialRefusesABadAddress(t *testing.T) {
	for _, addr := range []string{"tcp://", "tcp://no-port", "tcp://:5557"} {
		if c, err := Dial(Options{Addr: addr, Identity: "x"}); err == nil {
			c.Close(0)
			t.Errorf("Dial(%q) succeeded", addr)
		} else if !strings.Contains(err.Error(), "want tcp://HOST:PORT") {
			t.Errorf("Dial(%q): %v", addr, err)
		}
	}
}

// TestReconnectKeepsQueuedFrames: a master's "reconnect" comes from a master that still
// knows the worker, so what the worker queued before it (a stats report, say) goes out
// on the new socket instead of being dropped.
func TestReconnectKeepsQueuedFrames(t *testing.T) {
	t.Parallel()
	fm := fakemaster.Start(t, 0)
	c, _ := dial(t, fmt.Sprintf("tcp://127.0.0.1:%d", fm.Port), 0)
	waitEvent(t, c, Connected, 5*time.Second)
	const n = 200
	for i := 0; i < n; i++ {
		frame, err := wire.Encode(wire.Message{Type: "custom", Data: int64(i), NodeID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(frame); err != nil {
			t.Fatal(err)
		}
	}
	c.Reconnect()
	waitEvent(t, c, Connected, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for fm.Count("custom") < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	var got []int64
	for _, r := range fm.Received() {
		if r.Msg.Type == "custom" {
			got = append(got, r.Msg.Data.(int64))
		}
	}
	if len(got) != n || c.Dropped() != 0 {
		t.Fatalf("the master got %d of %d frames (%d dropped)", len(got), n, c.Dropped())
	}
	for i, v := range got {
		if v != int64(i) {
			t.Fatalf("frame %d is %d: out of order", i, v)
		}
	}
}
