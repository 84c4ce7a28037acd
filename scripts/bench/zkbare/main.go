// Command zkbare is the bare go-zookeeper baseline of `make bench`: -sessions sessions,
// each with -inflight requests in flight (goroutines doing synchronous calls on the
// session, which go-zookeeper pipelines), doing -op in a loop for -t on the shared keys
// /kl/c-000000 ... /kl/c-000127 (session i uses key i mod 128), then printing
// "requests N failures F seconds S ops/s R"; it exits 1 if any request failed (after
// that line) or if it could not set up (one line on stderr, no figures).
//
// Before the clock starts every key is created, or overwritten, with a -size byte value,
// so a get reads -size bytes; set rewrites the key with that value at version -1 (any
// version), as zkload's Set does. The clock includes opening the sessions, as the rates
// of Locust and zkload (which open them in their users' on_start) do.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

const keySpace = 128

func main() {
	hosts := flag.String("hosts", "127.0.0.1:2181", "ZooKeeper connect string")
	sessions := flag.Int("sessions", 64, "sessions")
	inflight := flag.Int("inflight", 1, "requests in flight per session")
	op := flag.String("op", "get", "operation: get or set")
	size := flag.Int("size", 8, "value size in bytes (what get reads, what set writes)")
	d := flag.Duration("t", 10*time.Second, "duration")
	flag.Parse()
	switch {
	case *op != "get" && *op != "set":
		fail("-op %q: want get or set", *op)
	case *size < 0 || *size > 1<<20:
		fail("-size %d: want 0 to 1048576 bytes", *size)
	case *sessions < 1:
		fail("-sessions %d: want at least 1", *sessions)
	case *inflight < 1:
		fail("-inflight %d: want at least 1", *inflight)
	case *d < 0:
		fail("-t %v: want a duration of 0 or more", *d)
	case flag.NArg() > 0:
		fail("unexpected argument %q", flag.Arg(0))
	}

	// The keys are written on a session of their own, before the clock starts.
	val := value(*size)
	setup, err := connect(*hosts)
	if err != nil {
		fail("setup session: %v", err)
	}
	if err := prepare(setup, val); err != nil {
		setup.Close()
		fail("%v", err)
	}
	setup.Close()

	// The clock starts before the sessions are opened, all at once, each starting its
	// requests as soon as it is up: Locust's (and zkload's) rates count from the spawn,
	// and their users open their sessions in on_start, so all rates include connecting.
	var (
		n, fails atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		conns    []*zk.Conn
		setupErr error
	)
	start := time.Now()
	for i := 0; i < *sessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := connect(*hosts)
			mu.Lock()
			if err != nil {
				if setupErr == nil {
					setupErr = fmt.Errorf("session %d of %d: %w", i+1, *sessions, err)
				}
				mu.Unlock()
				return
			}
			conns = append(conns, c)
			mu.Unlock()
			p := key(i % keySpace)
			do := func() error { _, _, err := c.Get(p); return err }
			if *op == "set" {
				do = func() error { _, err := c.Set(p, val, -1); return err }
			}
			var inner sync.WaitGroup
			for j := 0; j < *inflight; j++ {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for !stop.Load() {
						if err := do(); err != nil {
							fails.Add(1)
							continue
						}
						n.Add(1)
					}
				}()
			}
			inner.Wait()
		}()
	}
	time.Sleep(time.Until(start.Add(*d)))
	stop.Store(true)
	wg.Wait()
	s := time.Since(start).Seconds()
	for _, c := range conns {
		c.Close()
	}
	if setupErr != nil {
		fail("%v", setupErr)
	}
	fmt.Printf("requests %d failures %d seconds %.3f ops/s %.1f\n", n.Load(), fails.Load(), s, float64(n.Load())/s)
	if fails.Load() > 0 {
		os.Exit(1)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "zkbare: "+format+"\n", args...)
	os.Exit(1)
}

func key(i int) string { return fmt.Sprintf("/kl/c-%06d", i) }

// value is n printable bytes (zkload's and zk-locust's values are printable too).
func value(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + i%10)
	}
	return b
}

// lastLog keeps go-zookeeper's last log message until the session is established
// instead of printing its retries, so a failure to connect is one line that ends with
// the reason; later messages go to stderr.
type lastLog struct {
	mu        sync.Mutex
	msg       string
	connected bool
}

func (l *lastLog) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msg = fmt.Sprintf(format, args...)
	if l.connected {
		fmt.Fprintf(os.Stderr, "zkbare: %s\n", l.msg)
	}
}

func (l *lastLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msg == "" {
		return "no reply"
	}
	return l.msg
}

// connect opens a session and waits (at most 10 s) until it is established.
func connect(hosts string) (*zk.Conn, error) {
	l := &lastLog{}
	c, ev, err := zk.Connect(strings.Split(hosts, ","), 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(l))
	if err != nil {
		return nil, err
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				l.mu.Lock()
				l.connected = true
				l.mu.Unlock()
				return c, nil
			}
		case <-timeout:
			c.Close()
			return nil, fmt.Errorf("no session with %s within 10s: %s", hosts, l.last())
		}
	}
}

// prepare creates /kl and gives every key the value, creating or overwriting it.
func prepare(c *zk.Conn, val []byte) error {
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/kl", nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create /kl: %v", err)
	}
	for i := 0; i < keySpace; i++ {
		p := key(i)
		_, err := c.Create(p, val, 0, acl)
		if errors.Is(err, zk.ErrNodeExists) {
			_, err = c.Set(p, val, -1)
		}
		if err != nil {
			return fmt.Errorf("write %s: %v", p, err)
		}
	}
	return nil
}
