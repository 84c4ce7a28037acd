package zookeeper

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/record"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// key identifies a stats row: request type and task-set name.
type key struct{ method, name string }

// tally sums what users recorded, per row and per error text.
type tally struct {
	mu     sync.Mutex
	reqs   map[key]int64
	fails  map[key]int64
	errs   map[string]int64
	maxMS  map[key]float64
	sumMS  map[key]float64
	length map[key]int64
}

func newTally() *tally {
	return &tally{reqs: map[key]int64{}, fails: map[key]int64{}, errs: map[string]int64{},
		maxMS: map[key]float64{}, sumMS: map[key]float64{}, length: map[key]int64{}}
}

func (t *tally) add(r wire.StatsReport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range r.Stats {
		k := key{e.Method, e.Name}
		t.reqs[k] += e.NumRequests
		t.fails[k] += e.NumFailures
		t.sumMS[k] += e.TotalResponseTime
		t.length[k] += e.TotalContentLength
		if e.MaxResponseTime > t.maxMS[k] {
			t.maxMS[k] = e.MaxResponseTime
		}
	}
	for _, e := range r.Errors {
		t.errs[e.Error] += e.Occurrences
	}
}

func (t *tally) totalFailures() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, f := range t.fails {
		n += f
	}
	return n
}

// extSink is an extra sink, as the extended statistics are: it counts what reaches it
// per row (requests and values) and keeps the largest time.
type extSink struct {
	mu    sync.Mutex
	n     map[key]int64
	maxMS map[key]float64
}

func newExtSink() *extSink { return &extSink{n: map[key]int64{}, maxMS: map[key]float64{}} }

func (s *extSink) Shard(int) record.Recorder { return s }

func (s *extSink) Record(method, name string, elapsed time.Duration, _ int64, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key{method, name}
	s.n[k]++
	s.maxMS[k] = max(s.maxMS[k], float64(elapsed)/1e6)
}

func (s *extSink) count(k key) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[k]
}

func (s *extSink) max(k key) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxMS[k]
}

// harness runs zk user classes in-process, as a worker would, without a master; what
// they record also goes to ext, as to the extended statistics.
type harness struct {
	t     *testing.T
	users *boomer.Users
	rec   *recorder.Recorder
	tally *tally
	ext   *extSink
}

func newHarness(t *testing.T, classes []*boomer.UserClass, host string, master map[string]any) *harness {
	t.Helper()
	rec := recorder.New(recorder.Options{})
	us, err := boomer.NewUsers(classes, rec, host, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	us.Configure(&boomer.Env{ParsedOptions: master}, "", 2*time.Second, nil, nil)
	h := &harness{t: t, users: us, rec: rec, tally: newTally(), ext: newExtSink()}
	us.SetSink(h.ext)
	go func() {
		for e := range us.Exceptions() {
			t.Logf("exception: %s", e.Msg)
		}
	}()
	t.Cleanup(func() {
		select {
		case <-us.StopAll(0):
		case <-time.After(20 * time.Second):
			t.Errorf("users did not stop")
		}
	})
	return h
}

// run starts the targets, lets them run for d, stops them and returns what they did.
func (h *harness) run(targets map[string]int, d time.Duration) *tally {
	h.users.SetTargets(targets)
	time.Sleep(d)
	select {
	case <-h.users.StopAll(2 * time.Second):
	case <-time.After(20 * time.Second):
		h.t.Fatalf("users did not stop")
	}
	h.tally.add(h.rec.Report())
	return h.tally
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newRecorderForBench() *recorder.Recorder { return recorder.New(recorder.Options{}) }
