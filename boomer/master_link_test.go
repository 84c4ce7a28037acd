package boomer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/internal/fakemaster"
)

// waitLines waits until n lines of logs match re.
func waitLines(t *testing.T, logs *syncBuffer, re string, n int, timeout time.Duration) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		var got []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if rx.MatchString(l) {
				got = append(got, l)
			}
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d log lines matching %q within %v; log:\n%s", n, re, timeout, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWorkerNextToNotAMaster: a worker pointed at a server that sends garbage says it
// is not a Locust master, retries at a bounded pace, never takes its bytes for
// messages nor its connections for a master's, and quits cleanly.
func TestWorkerNextToNotAMaster(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	defer l.Close()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := rand.New(rand.NewPCG(3, 4))
				buf := make([]byte, 256)
				for i := 0; i < 200; i++ {
					for j := range buf {
						buf[j] = byte(r.IntN(255))
					}
					buf[0] = 'G' // not 0xff: libzmq would take it for ZMTP 1.0
					if _, err := c.Write(buf); err != nil {
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
	}()
	var rec atomic.Int64
	logs := &syncBuffer{}
	w, err := NewWorker(WorkerOptions{MasterPort: l.Addr().(*net.TCPAddr).Port,
		Classes: []*UserClass{recordingClass("A", 1, &rec, time.Millisecond)},
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitLines(t, logs, fmt.Sprintf(`level=WARN msg="127\.0\.0\.1:%d is not a Locust master: it does not speak ZeroMQ`, l.Addr().(*net.TCPAddr).Port), 2, 20*time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("worker did not quit within 5 s of its context's end")
	}
	out := logs.String()
	for _, bad := range []string{"level=ERROR", "malformed", "master lost", "connected to master", "client_ready"} {
		if strings.Contains(out, bad) {
			t.Errorf("log has %q:\n%s", bad, out)
		}
	}
	if n := conns.Load(); n > 3 {
		t.Errorf("%d connections to the server in two retry periods, want 2", n)
	}
}

// TestMalformedFloodIsBounded: a master that sends hundreds of malformed frames gets
// two ERROR lines, the first frame's and a count, and the worker still works.
func TestMalformedFloodIsBounded(t *testing.T) {
	fm := fakemaster.Start(t, 0)
	var rec atomic.Int64
	run := startWorker(t, fm, WorkerOptions{Classes: []*UserClass{recordingClass("A", 1, &rec, time.Millisecond)}})
	id, _ := fm.MustAckWorker(10 * time.Second)
	for i := 0; i < 500; i++ {
		if err := fm.SendRaw(id, []byte("not msgpack")); err != nil {
			t.Fatal(err)
		}
	}
	fm.MustSend(id, fakemaster.Spawn2121(fakemaster.Now(), map[string]int{"A": 1}, nil))
	fm.MustExpect(wire.TypeSpawningComplete, 10*time.Second)
	lines := waitLines(t, run.logs, `level=ERROR`, 2, 5*time.Second)
	if len(lines) != 2 || !strings.Contains(lines[0], "ignoring malformed message from master") ||
		!strings.Contains(lines[1], "ignored more malformed messages from master") || !strings.Contains(lines[1], " count=499 ") {
		t.Errorf("ERROR lines:\n%s\nwant the first malformed frame's, then count=499", strings.Join(lines, "\n"))
	}
}
