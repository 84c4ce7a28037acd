package main

// The targets zkload brings along for trying it, and for its main job: a local
// ZooKeeper ensemble and a tiny HTTP server.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkload/zkload/faults"
	"github.com/zkload/zkload/internal/zkenv"
)

// ControlFile is the file in an ensemble's directory holding its control URL.
const ControlFile = "control.url"

func runEnsemble(fs *flagSet, _ []string) error {
	stdout := fs.stdout
	members, err := fs.get("members").Int(1, 5)
	if err != nil || members%2 == 0 {
		return fs.check(fs.get("members").Bad())
	}
	dir := fs.text("dir")
	timeout, err := fs.get("start-timeout").Duration()
	if err != nil {
		return fs.check(err)
	}
	partitions, err := fs.get("partitions").Bool()
	if err != nil {
		return fs.check(err)
	}
	if partitions {
		if members == 1 {
			return fs.fail("--partitions: a standalone server has no others to be cut off from; want --members 3 or 5")
		}
		if err := zkenv.PartitionsAvailable(); err != nil {
			return fs.fail("--partitions: %v", err)
		}
	}
	if err := zkenv.Available(); err != nil {
		return fmt.Errorf("ZooKeeper is not installed (scripts/setup.sh installs it): %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fs.fail("--dir %q: %v", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fs.fail("--dir %q: %v", dir, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fmt.Fprintf(stdout, "starting %d ZooKeeper member(s) in %s\n", members, abs)
	e, err := zkenv.Start(startCtx, zkenv.Options{Members: members, Dir: abs, Partitions: partitions})
	if err != nil {
		return fmt.Errorf("start ensemble: %w", err)
	}
	defer e.Close()
	for _, m := range e.Members() {
		fmt.Fprintf(stdout, "member %d: %s, AdminServer %s, log %s\n", m.ID, m.Addr(), m.AdminURL(), m.LogPath())
	}
	// The control endpoint lets a fault program (zkload run/worker --dispatch-control)
	// kill, start, pause, resume, cut off and heal the members this process owns.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("ensemble control: %w", err)
	}
	srv := &http.Server{Handler: faults.ControlHandler(e), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	control := "http://" + ln.Addr().String()
	if err := os.WriteFile(filepath.Join(abs, ControlFile), []byte(control+"\n"), 0o644); err != nil {
		return fmt.Errorf("ensemble control: %w", err)
	}
	fmt.Fprintf(stdout, "control: %s\n", control)
	fmt.Fprintf(stdout, "connect: %s\n", e.ConnectString())
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the ensemble")
	return e.Close()
}

func runServe(fs *flagSet, _ []string) error {
	stdout := fs.stdout
	listen := fs.text("listen")
	capacity, err := fs.get("capacity").Float(0, 1e9)
	if err != nil {
		return fs.check(err)
	}
	queue, err := fs.get("queue").Int(1, 100_000_000)
	if err != nil {
		return fs.check(err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fs.fail("--listen %q: %v", listen, err)
	}
	var served, refused atomic.Int64
	var gate *capacityGate
	if capacity > 0 {
		gate = newCapacityGate(capacity, queue)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate != nil {
			if err := gate.admit(r.Context()); err != nil {
				if errors.Is(err, errQueueFull) {
					refused.Add(1)
					http.Error(w, fmt.Sprintf("zkload serve: %v", err), http.StatusServiceUnavailable)
				}
				return // the client went away while it waited
			}
		}
		served.Add(1)
		_, _ = io.WriteString(w, "ok\n")
	})}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	if gate != nil {
		fmt.Fprintf(stdout, "capacity: %g requests/s, evenly spaced; up to %d waiting\n", capacity, queue)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintf(stdout, "served %d requests\n", served.Load())
	if gate != nil {
		fmt.Fprintf(stdout, "refused %d requests: queue full\n", refused.Load())
	}
	return nil
}

// errQueueFull is a request refused because the queue of a capacity-limited target is
// full.
var errQueueFull = errors.New("queue full")

// capacityGate admits requests at a known rate, so that a target's capacity is known by
// construction (serve --capacity, the load controller's test target): one request every
// 1/rate seconds, evenly spaced, without burst (a token bucket of one token), in the
// order they take a slot; the others wait their turn. At most limit may wait; one more
// is refused at once. Because each request's slot is a fixed point in time (the last
// slot plus the interval, or now if the gate is idle), timer jitter delays a request
// but never drifts the rate.
type capacityGate struct {
	interval time.Duration
	limit    int

	mu      sync.Mutex
	next    time.Time // the next free slot
	waiting int
}

func newCapacityGate(rate float64, limit int) *capacityGate {
	return &capacityGate{interval: time.Duration(float64(time.Second) / rate), limit: limit}
}

// admit waits for the request's slot. It fails with errQueueFull when limit requests
// already wait, and with ctx's error if the request is abandoned (its slot is spent all
// the same, as a server's work on a request its client dropped).
func (g *capacityGate) admit(ctx context.Context) error {
	g.mu.Lock()
	if g.waiting >= g.limit {
		n, rate := g.waiting, float64(time.Second)/float64(g.interval)
		g.mu.Unlock()
		return fmt.Errorf("%w: %d requests wait their turn at %g/s (--queue %d)", errQueueFull, n, rate, g.limit)
	}
	now := time.Now()
	at := g.next
	if at.Before(now) {
		at = now
	}
	g.next = at.Add(g.interval)
	g.waiting++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	d := time.Until(at)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
