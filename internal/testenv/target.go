package testenv

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TargetOptions configures HTTPTarget.
type TargetOptions struct {
	// Status maps a path to the status code it answers (default 200).
	Status map[string]int
	// StatusEvery makes a path of Status answer its status to every n-th request only
	// (the n-th, 2n-th, ..., counted on arrival) and 200 to the others.
	StatusEvery map[string]int
	// Delay is added before every answer; PathDelay overrides it per path.
	Delay     time.Duration
	PathDelay map[string]time.Duration
	// BodySize is the size in bytes of every response body (default 0); PathBody sets
	// the body per path.
	BodySize int
	PathBody map[string]string
}

// Target is a local HTTP server on 127.0.0.1 that counts requests per path.
type Target struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234" (no trailing slash).
	URL string

	opts   TargetOptions
	srv    *httptest.Server
	total  atomic.Int64
	mu     sync.Mutex
	counts map[string]*atomic.Int64
	agents map[string]int64 // requests per User-Agent
}

// HTTPTarget starts a Target; it is closed at test cleanup. Delays end early when the
// client goes away, so closing never waits for them.
func HTTPTarget(t testing.TB, o TargetOptions) *Target {
	t.Helper()
	tg := &Target{opts: o, counts: map[string]*atomic.Int64{}, agents: map[string]int64{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv.HTTPTarget: %v", err)
	}
	tg.srv = httptest.NewUnstartedServer(http.HandlerFunc(tg.serve))
	tg.srv.Listener.Close()
	tg.srv.Listener = l
	tg.srv.Start()
	tg.URL = tg.srv.URL
	t.Cleanup(func() {
		tg.srv.CloseClientConnections()
		tg.srv.Close()
	})
	return tg
}

func (tg *Target) counter(path string) *atomic.Int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	c, ok := tg.counts[path]
	if !ok {
		c = new(atomic.Int64)
		tg.counts[path] = c
	}
	return c
}

func (tg *Target) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	n := tg.counter(path).Add(1)
	tg.total.Add(1)
	tg.mu.Lock()
	tg.agents[r.UserAgent()]++
	tg.mu.Unlock()
	delay := tg.opts.Delay
	if d, ok := tg.opts.PathDelay[path]; ok {
		delay = d
	}
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}
	status := http.StatusOK
	if s, ok := tg.opts.Status[path]; ok {
		if every := tg.opts.StatusEvery[path]; every <= 1 || n%int64(every) == 0 {
			status = s
		}
	}
	body, ok := tg.opts.PathBody[path]
	if !ok {
		body = strings.Repeat("x", tg.opts.BodySize)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// Count is the number of requests for path so far (counted on arrival, before any delay).
func (tg *Target) Count(path string) int64 {
	tg.mu.Lock()
	c, ok := tg.counts[path]
	tg.mu.Unlock()
	if !ok {
		return 0
	}
	return c.Load()
}

// AgentCount is the number of requests (for all paths) whose User-Agent starts with
// prefix: it tells apart the clients of a mixed fleet (zkload sends "zkload", Python's
// requests "python-requests/...").
func (tg *Target) AgentCount(prefix string) int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	var n int64
	for a, c := range tg.agents {
		if strings.HasPrefix(a, prefix) {
			n += c
		}
	}
	return n
}

// Total is the number of requests for all paths.
func (tg *Target) Total() int64 { return tg.total.Load() }

// Counts returns a snapshot of the per-path counts.
func (tg *Target) Counts() map[string]int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := make(map[string]int64, len(tg.counts))
	for p, c := range tg.counts {
		out[p] = c.Load()
	}
	return out
}

// Paths returns the requested paths, sorted.
func (tg *Target) Paths() []string {
	c := tg.Counts()
	out := make([]string, 0, len(c))
	for p := range c {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
