package boomer

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/internal/fakemaster"
)

// syncBuffer is a log sink the test can read while the worker writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordingClass records one request per iteration and counts them.
func recordingClass(name string, weight int, recorded *atomic.Int64, wait time.Duration) *UserClass {
	return &UserClass{Name: name, Weight: weight, Wait: Constant(wait), Tasks: []Task{{Name: "op", Weight: 1,
		Fn: func(ctx context.Context, u *User) error {
			u.Record("OP", name, 50*time.Microsecond, 8, nil)
			recorded.Add(1)
			return nil
		}}}}
}

type workerRun struct {
	w    *Worker
	logs *syncBuffer
	done chan error
	stop context.CancelFunc
}

func startWorker(t *testing.T, fm *fakemaster.Master, opts WorkerOptions) *workerRun {
	t.Helper()
	logs := &syncBuffer{}
	opts.MasterPort = fm.Port
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := NewWorker(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &workerRun{w: w, logs: logs, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Errorf("worker did not stop")
		}
		if t.Failed() {
			t.Logf("worker log:\n%s", logs.String())
		}
	})
	return r
}

func dataMap(t *testing.T, r fakemaster.Received) map[string]any {
	t.Helper()
	m, ok := r.Msg.Data.(map[string]any)
	if !ok {
		t.Fatalf("%s data is %T, want a map", r.Msg.Type, r.Msg.Data)
	}
	return m
}

func counts(t *testing.T, r fakemaster.Received) map[string]int {
	t.Helper()
	raw, ok := dataMap(t, r)["user_classes_count"].(map[string]any)
	if !ok {
		t.Fatalf("%s has no user_classes_count: %v", r.Msg.Type, r.Msg.Data)
	}
	out := map[string]int{}
	for k, v := range raw {
		n, _ := wire.Number(v)
		out[k] = int(n)
	}
	return out
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestWorkerSpeaksToANewerMaster walks the behaviours only masters newer than Debian's
// 2.12.1 show, with frames shaped as real Locust sends them.
func TestWorkerSpeaksToANewerMaster(t *testing.T) {
	fm := fakemaster.StartWithOptions(t, fakemaster.Options{AutoHeartbeat: true})
	var recA, recB atomic.Int64
	custom := make(chan wire.Message, 1)
	run := startWorker(t, fm, WorkerOptions{
		Classes:       []*UserClass{recordingClass("A", 3, &recA, 5*time.Millisecond), recordingClass("B", 1, &recB, 5*time.Millisecond)},
		StatsInterval: 300 * time.Millisecond,
		MasterTimeout: 2 * time.Second,
	})
	run.w.Handle("greeting", func(m wire.Message) { custom <- m })

	id, idx := fm.MustAckWorker(10 * time.Second)
	if idx != 0 || id != run.w.NodeID() || !regexp.MustCompile(`^[^_]+_[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("identity %q (index %d); node id %q", id, idx, run.w.NodeID())
	}
	ready := fm.Received()[0]
	if v, ok := ready.Msg.Data.(int64); !ok || v != -1 || ready.Msg.NodeID != id {
		t.Errorf("client_ready %+v, want version -1 from %s", ready.Msg, id)
	}

	// A spawn with a float stop_timeout and a host, as 2.13+ sends it.
	ts := fakemaster.Now()
	fm.MustSend(id, fakemaster.SpawnMsg(ts, map[string]int{"A": 2, "B": 1}, "http://example.test", 0.5, map[string]any{"tags": nil, "exclude_tags": nil, "custom": 1.5}))
	fm.MustExpect(wire.TypeSpawning, 5*time.Second)
	sc := fm.MustExpect(wire.TypeSpawningComplete, 5*time.Second)
	if got := counts(t, sc); !sameCounts(got, map[string]int{"A": 2, "B": 1}) {
		t.Errorf("spawning_complete counts %v", got)
	}
	if n, _ := wire.Number(dataMap(t, sc)["user_count"]); n != 3 {
		t.Errorf("user_count %v", n)
	}

	// A stale spawn is discarded: the next spawning_complete answers the newer one.
	fm.MustSend(id, fakemaster.SpawnLatest(ts-1, map[string]int{"A": 9}, nil, nil))
	// Master->worker spawning_complete, update_user_class, unknown and custom types.
	fm.MustSend(id, fakemaster.SpawningComplete(3))
	fm.MustSend(id, fakemaster.UpdateUserClass("A", map[string]any{"weight": 7, "host": "http://other.test"}))
	fm.MustSend(id, fakemaster.Custom("no_such_type", map[string]any{"x": 1}))
	fm.MustSend(id, fakemaster.Custom("greeting", "hello"))
	select {
	case m := <-custom:
		if m.Data != "hello" {
			t.Errorf("custom message data %v", m.Data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("custom message handler never ran")
	}
	// One message raises one class and lowers another; an unknown class is reported as 0.
	fm.MustSend(id, fakemaster.SpawnLatest(fakemaster.Now(), map[string]int{"A": 1, "B": 2, "Ghost": 2, "Nobody": 0}, nil, nil))
	sc = fm.MustExpect(wire.TypeSpawningComplete, 5*time.Second)
	if got := counts(t, sc); !sameCounts(got, map[string]int{"A": 1, "B": 2, "Ghost": 0}) {
		t.Errorf("after raising B and lowering A: %v", got)
	}
	if fm.Count(wire.TypeSpawning) != 2 {
		t.Errorf("%d spawning messages: the stale spawn was not discarded", fm.Count(wire.TypeSpawning))
	}
	if c := run.w.users.byName["A"]; c.Weight != 7 || c.Host != "http://other.test" {
		t.Errorf("update_user_class not applied: weight %d host %q", c.Weight, c.Host)
	}
	if logs := run.logs.String(); !strings.Contains(logs, "unknown message type") || !strings.Contains(logs, "no_such_type") {
		t.Errorf("unknown type not logged")
	}

	// Heartbeats and stats flow with the right shapes.
	hb := fm.MustExpect(wire.TypeHeartbeat, 3*time.Second)
	hbd := dataMap(t, hb)
	if st := hbd["state"]; st != StateRunning {
		t.Errorf("heartbeat state %v", st)
	}
	if _, ok := wire.Number(hbd["current_cpu_usage"]); !ok {
		t.Errorf("heartbeat cpu %T", hbd["current_cpu_usage"])
	}
	if mem, ok := hbd["current_memory_usage"].(int64); !ok || mem <= 0 {
		t.Errorf("heartbeat memory %v", hbd["current_memory_usage"])
	}
	st := dataMap(t, fm.MustExpect(wire.TypeStats, 3*time.Second))
	for _, k := range []string{"stats", "stats_total", "errors", "user_classes_count", "user_count"} {
		if _, ok := st[k]; !ok {
			t.Errorf("stats report without %q", k)
		}
	}

	// reconnect: a new socket with the same identity, heartbeats continue, and no
	// second client_ready (the master still knows this worker).
	fm.MustSend(id, fakemaster.Reconnect())
	mark := len(fm.Received())
	deadline := time.Now().Add(5 * time.Second)
	for {
		hbs := 0
		for _, r := range fm.Received()[mark:] {
			if r.Msg.Type == wire.TypeHeartbeat && r.Identity == id {
				hbs++
			}
		}
		if hbs >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeats after reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := fm.Count(wire.TypeClientReady); n != 1 {
		t.Errorf("%d client_ready after a reconnect, want still 1", n)
	}
	if !strings.Contains(run.logs.String(), "reconnecting to master") {
		t.Errorf("the socket was not re-created")
	}

	// Master heartbeats stop: after MasterTimeout the worker treats the master as lost,
	// stops its users and registers again.
	fm.SetAutoHeartbeat(false)
	fm.MustExpect(wire.TypeClientReady, 6*time.Second)
	if !strings.Contains(run.logs.String(), "no heartbeat from master") {
		t.Errorf("re-registered without saying why")
	}
	if c, n := run.w.users.Counts(); n != 0 {
		t.Errorf("users still running after the master was lost: %v", c)
	}
	before := fm.Count(wire.TypeSpawningComplete)
	time.Sleep(300 * time.Millisecond)
	for _, r := range fm.Received() {
		if r.Msg.Type == wire.TypeSpawning || r.Msg.Type == wire.TypeSpawningComplete {
			before--
		}
	}
	if before != -fm.Count(wire.TypeSpawning) {
		t.Errorf("spawning messages sent to a master that has not acked")
	}

	// Quit: final stats then quit, and Run returns nil.
	fm.Ack(id)
	fm.MustSend(id, fakemaster.Ack(0))
	fm.MustSend(id, fakemaster.Quit())
	fm.MustExpect(wire.TypeQuit, 5*time.Second)
	select {
	case err := <-run.done:
		if err != nil {
			t.Errorf("Run returned %v after quit", err)
		}
		run.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after quit")
	}
}

// TestStopWaitIsNotMasterLoss: after a stop the master forgets the worker until it
// re-registers, so no master heartbeats arrive during stop_timeout; that silence must
// not count as losing the master (Locust issue 2621). Nor may the retries of an
// unanswered client_ready cut that wait short.
func TestStopWaitIsNotMasterLoss(t *testing.T) {
	fm := fakemaster.StartWithOptions(t, fakemaster.Options{AutoHeartbeat: true})
	var rec atomic.Int64
	run := startWorker(t, fm, WorkerOptions{
		Classes:       []*UserClass{recordingClass("A", 1, &rec, time.Millisecond)},
		MasterTimeout: time.Second,
		ReadyRetry:    200 * time.Millisecond,
	})
	id, _ := fm.MustAckWorker(10 * time.Second)
	fm.MustSend(id, fakemaster.SpawnMsg(fakemaster.Now(), map[string]int{"A": 2}, nil, 3.0, nil))
	fm.MustExpect(wire.TypeSpawningComplete, 5*time.Second)
	fm.MustExpect(wire.TypeHeartbeat, 3*time.Second) // master heartbeats are being seen
	fm.MustSend(id, fakemaster.Stop())
	stopped := fm.MustExpect(wire.TypeClientStopped, 5*time.Second)
	fm.Forget(id) // as a real master does on client_stopped
	again := fm.MustExpect(wire.TypeClientReady, 10*time.Second)
	if wait := again.At.Sub(stopped.At); wait < 2900*time.Millisecond {
		t.Errorf("client_ready %v after client_stopped, want the 3 s stop timeout", wait)
	}
	if strings.Contains(run.logs.String(), "master lost") {
		t.Errorf("the wait after a stop was taken for master loss")
	}
	if _, n := run.w.users.Counts(); n != 0 {
		t.Errorf("%d users still counted after stop", n)
	}
}

// TestQuitReportsEveryRequest: users record as fast as they can; on quit, the final
// report reaches the master within its 0.5 s window and the reports add up to every
// request recorded.
func TestQuitReportsEveryRequest(t *testing.T) {
	fm := fakemaster.Start(t, 0)
	var recorded atomic.Int64
	run := startWorker(t, fm, WorkerOptions{
		Classes:       []*UserClass{recordingClass("A", 1, &recorded, 0)},
		StatsInterval: 200 * time.Millisecond,
	})
	id, _ := fm.MustAckWorker(10 * time.Second)
	fm.MustSend(id, fakemaster.Spawn2121(fakemaster.Now(), map[string]int{"A": 8}, nil))
	fm.MustExpect(wire.TypeSpawningComplete, 5*time.Second)
	time.Sleep(700 * time.Millisecond)
	sent := time.Now()
	fm.MustSend(id, fakemaster.Quit())
	fm.MustSend(id, fakemaster.Quit()) // masters may send it twice
	q := fm.MustExpect(wire.TypeQuit, 5*time.Second)
	if err := <-run.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	run.done <- nil
	var total int64
	var last fakemaster.Received
	for _, r := range fm.Received() {
		if r.Msg.Type == wire.TypeStats {
			tot := dataMap(t, r)["stats_total"].(map[string]any)
			n, _ := wire.Number(tot["num_requests"])
			total += int64(n)
			last = r
		}
	}
	if total != recorded.Load() || total == 0 {
		t.Errorf("reports hold %d requests, users recorded %d", total, recorded.Load())
	}
	if last.At.After(q.At) {
		t.Errorf("a stats report came after quit")
	}
	// The bound is loose on purpose: the order above is what matters, and a loaded CI
	// machine running other packages under -race stretches a 50 ms flush past 300 ms.
	if d := last.At.Sub(sent); d > time.Second {
		t.Errorf("final report %v after the master's quit, want inside 1 s", d)
	}
	if c := counts(t, last); c["A"] != 0 {
		t.Errorf("final report counts %v, want 0 users", c)
	}
}

// TestMalformedFramesAreIgnored: garbage from the master is logged, never fatal.
func TestMalformedFramesAreIgnored(t *testing.T) {
	fm := fakemaster.Start(t, 0)
	var rec atomic.Int64
	run := startWorker(t, fm, WorkerOptions{Classes: []*UserClass{recordingClass("A", 1, &rec, time.Millisecond)}})
	id, _ := fm.MustAckWorker(10 * time.Second)
	for _, raw := range [][]byte{{}, {0x92, 0xa1, 'x', 0xc0}, {0xdd, 0x7f, 0xff, 0xff, 0xff}, []byte("not msgpack")} {
		if err := fm.SendRaw(id, raw); err != nil {
			t.Fatal(err)
		}
	}
	fm.MustSend(id, fakemaster.Spawn2121(fakemaster.Now(), map[string]int{"A": 1}, nil))
	fm.MustExpect(wire.TypeSpawningComplete, 5*time.Second)
	// The first is logged in full, the others counted once a good message follows.
	logs := run.logs.String()
	if n := strings.Count(logs, "ignoring malformed message from master"); n != 1 {
		t.Errorf("%d malformed frames logged in full, want the first", n)
	}
	if !strings.Contains(logs, `msg="ignored more malformed messages from master" node=`+run.w.NodeID()+" count=3 ") {
		t.Errorf("no count of the 3 others:\n%s", logs)
	}
}

// TestWorkerStartedBeforeMaster: client_ready goes out once the master is there, is
// re-sent every 5 s until acked, and extra acks do not register the worker twice.
func TestWorkerStartedBeforeMaster(t *testing.T) {
	probe := fakemaster.Start(t, 0)
	port := probe.Port
	probe.Close() // the port is free again; the worker starts before any master
	var rec atomic.Int64
	logs := &syncBuffer{}
	w, err := NewWorker(WorkerOptions{MasterPort: port, Classes: []*UserClass{recordingClass("A", 1, &rec, time.Millisecond)},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(500 * time.Millisecond)
	fm := fakemaster.StartWithOptions(t, fakemaster.Options{Port: port})
	first := fm.MustExpect(wire.TypeClientReady, 5*time.Second)
	second := fm.MustExpect(wire.TypeClientReady, 8*time.Second) // not acked: re-sent
	if gap := second.At.Sub(first.At); gap < 4*time.Second || gap > 6500*time.Millisecond {
		t.Errorf("client_ready re-sent after %v, want about 5 s", gap)
	}
	idx := fm.Ack(first.Identity)
	fm.MustSend(first.Identity, fakemaster.Ack(idx))
	fm.MustSend(first.Identity, fakemaster.Ack(idx)) // the master acks every client_ready it got
	hb := fm.MustExpect(wire.TypeHeartbeat, 3*time.Second)
	next := fm.MustExpect(wire.TypeHeartbeat, 3*time.Second)
	if gap := next.At.Sub(hb.At); gap < 700*time.Millisecond || gap > 1500*time.Millisecond {
		t.Errorf("heartbeats %v apart, want about 1 s", gap)
	}
	time.Sleep(5500 * time.Millisecond) // a whole retry period: no client_ready after the ack
	if n := fm.Count(wire.TypeClientReady); n != 2 {
		t.Errorf("%d client_ready sent, want 2 (none after the ack)", n)
	}
	if n := strings.Count(logs.String(), "registered with master"); n != 1 {
		t.Errorf("registered %d times, want once", n)
	}
}

// TestPanicReachesTheMasterAsAnException: a panicking task is a failure in the stats
// and an exception message with the Go stack.
func TestPanicReachesTheMasterAsAnException(t *testing.T) {
	fm := fakemaster.Start(t, 0)
	var once sync.Once
	boom := &UserClass{Name: "Boom", Wait: Constant(time.Hour), Tasks: []Task{{Name: "explode", Weight: 1,
		Fn: func(ctx context.Context, u *User) error {
			once.Do(func() { panic("kaboom") })
			return nil
		}}}}
	startWorker(t, fm, WorkerOptions{Classes: []*UserClass{boom}, StatsInterval: 200 * time.Millisecond})
	id, _ := fm.MustAckWorker(10 * time.Second)
	fm.MustSend(id, fakemaster.Spawn2121(fakemaster.Now(), map[string]int{"Boom": 1}, nil))
	ex := dataMap(t, fm.MustExpect(wire.TypeException, 5*time.Second))
	if ex["msg"] != "panic: kaboom" || !strings.Contains(ex["traceback"].(string), "worker_test.go") {
		t.Errorf("exception %v", ex)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := fm.MustExpect(wire.TypeStats, 3*time.Second)
		tot := dataMap(t, r)["stats_total"].(map[string]any)
		if n, _ := wire.Number(tot["num_failures"]); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the panic was never reported as a failure")
		}
	}
}

// TestSpawnOverTheLimitRunsWhatFits: a master asking for absurd counts (far beyond
// int32, and beyond the worker's limit) gets what the limit allows, shared by the
// classes in proportion; the worker says so in one error per test and neither panics
// nor allocates per user asked for. A later test over the limit says it again.
func TestSpawnOverTheLimitRunsWhatFits(t *testing.T) {
	fm := fakemaster.Start(t, 0)
	var ra, rb atomic.Int64
	run := startWorker(t, fm, WorkerOptions{
		Classes: []*UserClass{recordingClass("A", 1, &ra, time.Hour), recordingClass("B", 1, &rb, time.Hour)},
		Limit:   &UserLimit{Users: 10, Memory: 160 << 10, Source: "a test"},
	})
	id, _ := fm.MustAckWorker(10 * time.Second)
	huge := map[string]int{"A": 3 << 40, "B": 1 << 40}
	fm.MustSend(id, fakemaster.Spawn2121(fakemaster.Now(), huge, nil))
	if c := counts(t, fm.MustExpect(wire.TypeSpawningComplete, 10*time.Second)); c["A"] != 8 || c["B"] != 2 {
		t.Errorf("spawning_complete counts %v, want A 8 and B 2 (the limit of 10, 3:1)", c)
	}
	fm.MustSend(id, fakemaster.Spawn2121(fakemaster.Now(), map[string]int{"A": 1 << 62, "B": 0}, nil))
	if c := counts(t, fm.MustExpect(wire.TypeSpawningComplete, 10*time.Second)); c["A"] != 10 || c["B"] != 0 {
		t.Errorf("second spawn: counts %v, want A 10", c)
	}
	over := regexp.MustCompile(`level=ERROR msg="master asked for \d+ users, more than this worker can hold; running at most 10 users \(0\.0 GiB available \(a test\)`)
	if n := len(over.FindAllString(run.logs.String(), -1)); n != 1 {
		t.Errorf("%d over-the-limit errors in one test, want 1:\n%s", n, run.logs.String())
	}
	// A new test after a stop: said again, once.
	fm.MustSend(id, fakemaster.Stop())
	fm.MustExpect(wire.TypeClientStopped, 5*time.Second)
	fm.Forget(id)
	id, _ = fm.MustAckWorker(10 * time.Second)
	fm.MustSend(id, fakemaster.Spawn2121(fakemaster.Now(), map[string]int{"A": 11}, nil))
	if c := counts(t, fm.MustExpect(wire.TypeSpawningComplete, 10*time.Second)); c["A"] != 10 {
		t.Errorf("after a stop: counts %v, want A 10", c)
	}
	if n := len(over.FindAllString(run.logs.String(), -1)); n != 2 {
		t.Errorf("%d over-the-limit errors in two tests, want 2", n)
	}
}

func TestLimitTargets(t *testing.T) {
	a, b, c := &UserClass{Name: "A"}, &UserClass{Name: "B"}, &UserClass{Name: "C"}
	classes := []*UserClass{a, b, c}
	for _, tc := range []struct {
		want      map[string]int
		limit     int
		got       map[string]int
		askedUser int
	}{
		{map[string]int{"A": 1, "B": 2}, 5, map[string]int{"A": 1, "B": 2}, 3},
		{map[string]int{"A": 1, "B": 1, "C": 1}, 2, map[string]int{"A": 1, "B": 1, "C": 0}, 3},
		{map[string]int{"A": 1 << 53, "B": 1 << 53, "C": 1 << 53, "Ghost": 4}, 7, map[string]int{"A": 3, "B": 2, "C": 2, "Ghost": 4}, 3 << 53},
		{map[string]int{"A": 0, "B": 100}, 0, map[string]int{"A": 0, "B": 0, "C": 0}, 100},
	} {
		got, asked := limitTargets(classes, tc.want, tc.limit)
		if asked != tc.askedUser || !sameCounts(got, tc.got) {
			t.Errorf("limitTargets(%v, %d) = %v, %d; want %v, %d", tc.want, tc.limit, got, asked, tc.got, tc.askedUser)
		}
	}
}

// TestOnTestEvents: a test's events reach OnTest once each, in order, with the
// worker's index: started at the first spawn, spawned when the master says so
// (spawning_complete) or, from a master that does not, a ramp step after the last
// spawn, ended at the stop; a stop before the ramp-up completed never says spawned.
func TestOnTestEvents(t *testing.T) {
	fm := fakemaster.StartWithOptions(t, fakemaster.Options{})
	events := make(chan TestEvent, 16)
	var rec atomic.Int64
	startWorker(t, fm, WorkerOptions{
		Classes: []*UserClass{recordingClass("A", 1, &rec, 5*time.Millisecond)},
		OnTest:  func(e TestEvent) { events <- e },
	})
	id, idx := fm.MustAckWorker(10 * time.Second)
	next := func(want TestEventKind, within time.Duration) TestEvent {
		t.Helper()
		select {
		case e := <-events:
			if e.Kind != want || e.Index != idx {
				t.Fatalf("event %+v, want kind %d for index %d", e, want, idx)
			}
			return e
		case <-time.After(within):
			t.Fatalf("no event %d within %v", want, within)
		}
		return TestEvent{}
	}
	none := func(within time.Duration) {
		t.Helper()
		select {
		case e := <-events:
			t.Fatalf("unexpected event %+v", e)
		case <-time.After(within):
		}
	}

	// An older master: two ramp steps, no spawning_complete.
	fm.MustSend(id, fakemaster.SpawnLatest(fakemaster.Now(), map[string]int{"A": 1}, nil, map[string]any{"spawn_rate": 1.0, "custom": "x"}))
	if e := next(TestStarted, 5*time.Second); e.ParsedOptions["custom"] != "x" {
		t.Errorf("started with options %v", e.ParsedOptions)
	}
	fm.MustSend(id, fakemaster.SpawnLatest(fakemaster.Now(), map[string]int{"A": 2}, nil, map[string]any{"spawn_rate": 1.0}))
	none(time.Second) // a second spawn is no new test, and the ramp may go on
	next(TestSpawned, 3*time.Second)
	fm.MustSend(id, fakemaster.Stop())
	next(TestEnded, 5*time.Second)

	// A newer master says when the ramp-up completes; a stop before it completes.
	fm.MustExpect(wire.TypeClientReady, 15*time.Second)
	id, idx = fm.MustAckWorker(10 * time.Second)
	fm.MustSend(id, fakemaster.SpawnLatest(fakemaster.Now(), map[string]int{"A": 1}, nil, map[string]any{"spawn_rate": 1.0}))
	next(TestStarted, 5*time.Second)
	fm.MustSend(id, fakemaster.SpawningComplete(1))
	next(TestSpawned, time.Second)
	fm.MustSend(id, fakemaster.Stop())
	next(TestEnded, 5*time.Second)
	none(2 * time.Second)
}
