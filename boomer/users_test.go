package boomer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/record"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPickerFollowsWeights(t *testing.T) {
	tasks := []Task{{Name: "a", Weight: 1}, {Name: "zero", Weight: 0}, {Name: "b", Weight: 3}}
	p := newPicker(tasks, false)
	r := rand.New(rand.NewPCG(1, 2))
	counts := map[string]int{}
	const n = 40000
	for range n {
		counts[p.pick(r).Name]++
	}
	if counts["zero"] != 0 {
		t.Errorf("a weight-0 task was picked %d times", counts["zero"])
	}
	if got := float64(counts["b"]) / float64(counts["a"]); got < 2.8 || got > 3.2 {
		t.Errorf("b:a = %.2f, want about 3 (counts %v)", got, counts)
	}
	seq := newPicker(tasks, true)
	var order []string
	for range 4 {
		order = append(order, seq.pick(r).Name)
	}
	if got := strings.Join(order, ","); got != "a,zero,b,a" {
		t.Errorf("sequential order %s, want a,zero,b,a", got)
	}
}

func TestWaitTimes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	if d := Constant(time.Second)(r, 0); d != time.Second {
		t.Errorf("Constant: %v", d)
	}
	for range 1000 {
		if d := Between(10*time.Millisecond, 20*time.Millisecond)(r, 0); d < 10*time.Millisecond || d > 20*time.Millisecond {
			t.Fatalf("Between out of range: %v", d)
		}
	}
	if d := ConstantPacing(time.Second)(r, 300*time.Millisecond); d != 700*time.Millisecond {
		t.Errorf("ConstantPacing after a 300ms task: %v, want 700ms", d)
	}
	if d := ConstantPacing(time.Second)(r, 2*time.Second); d != 0 {
		t.Errorf("ConstantPacing after a slow task: %v, want 0", d)
	}
	if d := ConstantThroughput(4)(r, 50*time.Millisecond); d != 200*time.Millisecond {
		t.Errorf("ConstantThroughput(4) after 50ms: %v, want 200ms", d)
	}
}

func TestFilterTasksByTags(t *testing.T) {
	tasks := []Task{{Name: "a", Tags: []string{"read"}}, {Name: "b", Tags: []string{"write"}}, {Name: "c"}}
	names := func(ts []Task) string {
		var n []string
		for _, t := range ts {
			n = append(n, t.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names(filterTasks(tasks, nil, nil)); got != "a,b,c" {
		t.Errorf("no filter: %s", got)
	}
	if got := names(filterTasks(tasks, []string{"read"}, nil)); got != "a" {
		t.Errorf("tags read: %s", got)
	}
	if got := names(filterTasks(tasks, nil, []string{"write"})); got != "a,c" {
		t.Errorf("exclude write: %s", got)
	}
}

func TestValidateRejectsBadClasses(t *testing.T) {
	fn := func(context.Context, *User) error { return nil }
	for _, c := range []UserClass{
		{},
		{Name: "NoTasks"},
		{Name: "NilFn", Tasks: []Task{{Name: "x", Weight: 1}}},
		{Name: "Zero", Tasks: []Task{{Name: "x", Fn: fn}}},
		{Name: "Neg", Weight: -1, Tasks: []Task{{Name: "x", Weight: 1, Fn: fn}}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("class %q validated", c.Name)
		}
	}
}

// userCounts counts the users of a counting class that run, and those inside a task.
type userCounts struct{ running, inTask atomic.Int64 }

// counting is a class whose users record one request per task and count themselves.
func counting(name string, n *userCounts, taskTime time.Duration) *UserClass {
	return &UserClass{
		Name: name, Weight: 1,
		OnStart: func(context.Context, *User) error { n.running.Add(1); return nil },
		OnStop:  func(context.Context, *User) { n.running.Add(-1) },
		Tasks: []Task{{Name: "t", Weight: 1, Fn: func(ctx context.Context, u *User) error {
			n.inTask.Add(1)
			defer n.inTask.Add(-1)
			start := time.Now()
			select {
			case <-time.After(taskTime):
			case <-ctx.Done():
				return nil // interrupted: not recorded
			}
			u.Record("GET", "/"+name, time.Since(start), 1, nil)
			return nil
		}}},
	}
}

func TestSetTargetsRaisesAndLowersClassesInOneCall(t *testing.T) {
	var a, b userCounts
	rec := recorder.New(recorder.Options{})
	us, err := NewUsers([]*UserClass{counting("A", &a, time.Millisecond), counting("B", &b, time.Millisecond)}, rec, "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	us.SetTargets(map[string]int{"A": 1, "B": 1})
	waitFor(t, "1 A and 1 B", func() bool { return a.running.Load() == 1 && b.running.Load() == 1 })
	us.SetTargets(map[string]int{"A": 2, "B": 0, "Ghost": 3, "Zero": 0})
	counts, total := us.Counts()
	if counts["A"] != 2 || counts["B"] != 0 || total != 2 {
		t.Errorf("counts %v total %d, want A:2 B:0 total 2", counts, total)
	}
	if n, ok := counts["Ghost"]; !ok || n != 0 {
		t.Errorf("an unknown class asked for must be reported as 0: %v", counts)
	}
	if _, ok := counts["Zero"]; ok {
		t.Errorf("an unknown class asked for 0 users must be ignored: %v", counts)
	}
	waitFor(t, "B stopped and A raised", func() bool { return a.running.Load() == 2 && b.running.Load() == 0 })
	<-us.StopAll(time.Second)
	if a.running.Load() != 0 {
		t.Errorf("%d A users still running after StopAll", a.running.Load())
	}
}

func TestStopLetsTasksFinishWithinStopTimeout(t *testing.T) {
	var n userCounts
	rec := recorder.New(recorder.Options{})
	us, err := NewUsers([]*UserClass{counting("Slow", &n, 200*time.Millisecond)}, rec, "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	us.SetTargets(map[string]int{"Slow": 3})
	waitFor(t, "3 users in a task", func() bool { return n.inTask.Load() == 3 })
	<-us.StopAll(5 * time.Second) // long enough for every task in flight to finish
	rep := rec.Report()
	if rep.StatsTotal.NumRequests != 3 {
		t.Errorf("%d requests recorded, want 3: the task in flight of each user finishes and records", rep.StatsTotal.NumRequests)
	}
	if rep.StatsTotal.NumFailures != 0 {
		t.Errorf("%d failures", rep.StatsTotal.NumFailures)
	}

	// With no stop timeout, tasks are interrupted and record nothing.
	us.SetTargets(map[string]int{"Slow": 3})
	waitFor(t, "3 users in a task", func() bool { return n.inTask.Load() == 3 })
	rec.Clear()
	<-us.StopAll(0)
	if n := rec.Report().StatsTotal.NumRequests; n != 0 {
		t.Errorf("%d requests recorded after an immediate stop, want 0", n)
	}
}

func TestPanicIsAFailureAndAnException(t *testing.T) {
	rec := recorder.New(recorder.Options{})
	c := &UserClass{Name: "Boom", Tasks: []Task{{Name: "explode", Weight: 1, Fn: func(ctx context.Context, u *User) error {
		var m map[string]int
		m["x"] = 1 // nil map write: a real runtime panic
		return nil
	}}}, Wait: Constant(time.Hour)}
	us, err := NewUsers([]*UserClass{c}, rec, "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	us.SetTargets(map[string]int{"Boom": 1})
	ex := <-us.Exceptions()
	if !strings.Contains(ex.Msg, "assignment to entry in nil map") {
		t.Errorf("exception msg %q", ex.Msg)
	}
	if !strings.Contains(ex.Traceback, "users_test.go") {
		t.Errorf("traceback does not show the panicking frame:\n%s", ex.Traceback)
	}
	<-us.StopAll(0)
	rep := rec.Report()
	if rep.StatsTotal.NumFailures != 1 || len(rep.Errors) != 1 {
		t.Fatalf("failures %d, errors %v", rep.StatsTotal.NumFailures, rep.Errors)
	}
	for _, e := range rep.Errors {
		if e.Method != "task" || e.Name != "Boom.explode" || !strings.HasPrefix(e.Error, "panic: ") {
			t.Errorf("error row %+v", e)
		}
	}
}

func TestTaskErrorIsAnExceptionAndOnStartIsRetried(t *testing.T) {
	rec := recorder.New(recorder.Options{})
	var starts atomic.Int64
	c := &UserClass{Name: "Flaky",
		OnStart: func(context.Context, *User) error {
			if starts.Add(1) == 1 {
				return errors.New("server down")
			}
			return nil
		},
		Tasks: []Task{{Name: "fail", Weight: 1, Fn: func(ctx context.Context, u *User) error {
			return errors.New("task broke")
		}}}, Wait: Constant(time.Hour)}
	us, err := NewUsers([]*UserClass{c}, rec, "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	us.SetTargets(map[string]int{"Flaky": 1})
	first, second := <-us.Exceptions(), <-us.Exceptions()
	<-us.StopAll(0)
	if first.Msg != "server down" || first.Traceback != "Flaky.on_start" {
		t.Errorf("first exception %+v", first)
	}
	if second.Msg != "task broke" || second.Traceback != "Flaky.fail" {
		t.Errorf("second exception %+v", second)
	}
	if starts.Load() != 2 {
		t.Errorf("OnStart ran %d times, want 2 (retried once)", starts.Load())
	}
}

func TestAbandonedUserRecordsNothing(t *testing.T) {
	rec := recorder.New(recorder.Options{})
	started, release := make(chan struct{}), make(chan struct{})
	recorded := make(chan struct{})
	c := &UserClass{Name: "Stuck", Tasks: []Task{{Name: "ignore-ctx", Weight: 1, Fn: func(ctx context.Context, u *User) error {
		close(started)
		<-release // ignores ctx
		u.Record("GET", "/late", time.Millisecond, 0, nil)
		close(recorded)
		return nil
	}}}, Wait: Constant(time.Hour)}
	us, err := NewUsers([]*UserClass{c}, rec, "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	us.SetTargets(map[string]int{"Stuck": 1})
	<-started
	<-us.StopAll(0) // returns after abandoning the user
	close(release)
	<-recorded
	if n := rec.Report().StatsTotal.NumRequests; n != 0 {
		t.Errorf("an abandoned user recorded %d requests into the next test", n)
	}
}

func BenchmarkUserRecord(b *testing.B) {
	rec := recorder.New(recorder.Options{})
	var dead atomic.Bool
	u := &User{shard: rec.Shard(0), dead: &dead}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		u.Record("GET", "/", time.Duration(i%1000)*time.Microsecond, 100, nil)
	}
}

// countingSink counts what reaches it per user shard.
type countingSink struct{ n []atomic.Int64 }

func (s *countingSink) Shard(i int) record.Recorder { return sinkShard{&s.n[i%len(s.n)]} }

type sinkShard struct{ n *atomic.Int64 }

func (s sinkShard) Record(string, string, time.Duration, int64, error) { s.n.Add(1) }

func TestSinkSeesEveryRequest(t *testing.T) {
	rec := recorder.New(recorder.Options{})
	var n userCounts
	us, err := NewUsers([]*UserClass{counting("A", &n, time.Millisecond)}, rec, "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	sink := &countingSink{n: make([]atomic.Int64, 4)}
	us.SetSink(sink)
	us.SetTargets(map[string]int{"A": 3})
	waitFor(t, "some requests", func() bool { return sink.n[0].Load()+sink.n[1].Load()+sink.n[2].Load() > 30 })
	<-us.StopAll(time.Second)
	var total int64
	for i := range sink.n {
		total += sink.n[i].Load()
	}
	if got := rec.Report().StatsTotal.NumRequests; got != total {
		t.Errorf("sink saw %d requests, the Locust stats %d", total, got)
	}
}

// lockedSink is a record.LockedSink that counts, per lock, what reaches it with plain
// (unsynchronised) fields: the race detector reports any Record not under its lock.
type lockedSink struct {
	mu     sync.Mutex
	shards map[sync.Locker]*lockedCount
}

type lockedCount struct {
	l        sync.Locker
	requests map[string]int
}

func (s *lockedSink) Shard(int) record.Recorder { panic("a LockedSink's Shard was used") }

func (s *lockedSink) LockedShard(l sync.Locker) record.Recorder {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shards[l] == nil {
		s.shards[l] = &lockedCount{l: l, requests: map[string]int{}}
	}
	return s.shards[l]
}

func (c *lockedCount) Record(method, _ string, _ time.Duration, _ int64, _ error) {
	c.requests[method]++
}

// counts sums every shard's counts, each read under its lock.
func (s *lockedSink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := map[string]int{}
	for _, c := range s.shards {
		c.l.Lock()
		for m, n := range c.requests {
			sum[m] += n
		}
		c.l.Unlock()
	}
	return sum
}

// TestLockedSinkRecordsUnderTheUsersLock: a record.LockedSink gets every request and
// value under the lock of the user's Locust shard (one lock a request), and its counts
// equal the Locust stats' while users run.
func TestLockedSinkRecordsUnderTheUsersLock(t *testing.T) {
	rec := recorder.New(recorder.Options{Shards: 2})
	var n userCounts
	us, err := NewUsers([]*UserClass{counting("A", &n, time.Millisecond)}, rec, "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	sink := &lockedSink{shards: map[sync.Locker]*lockedCount{}}
	us.SetSink(sink)
	us.SetTargets(map[string]int{"A": 5})
	waitFor(t, "some requests", func() bool { return sink.counts()["GET"] > 50 })
	<-us.StopAll(time.Second)
	got := sink.counts()
	if want := int(rec.Report().StatsTotal.NumRequests); got["GET"] != want || len(sink.shards) != 2 {
		t.Errorf("sink saw %v over %d locks, the Locust stats %d requests over 2 shards", got, len(sink.shards), want)
	}

	var dead atomic.Bool
	u := &User{shard: rec.Shard(0), dead: &dead}
	u.extra, u.locked = us.extraOf(0)
	u.RecordValue("~schedule_lag", "Get", time.Millisecond)
	if v := sink.counts()["~schedule_lag"]; v != 1 || rec.Report().StatsTotal.NumRequests != 0 {
		t.Errorf("a value reached the sink %d times (want 1) or the Locust stats", v)
	}
}

// methodSink keeps the methods that reach it.
type methodSink struct {
	mu      sync.Mutex
	methods map[string]int
}

func (s *methodSink) Shard(int) record.Recorder { return s }

func (s *methodSink) Record(method, _ string, _ time.Duration, _ int64, _ error) {
	s.mu.Lock()
	s.methods[method]++
	s.mu.Unlock()
}

// TestRecordValueGoesToTheSinkOnly: a value (an open loop's schedule lag) reaches the
// extra sink and never the Locust stats; one outside the value namespace is not
// recorded at all, and neither is one without a sink.
func TestRecordValueGoesToTheSinkOnly(t *testing.T) {
	rec := recorder.New(recorder.Options{})
	sink := &methodSink{methods: map[string]int{}}
	var dead atomic.Bool
	u := &User{shard: rec.Shard(0), extra: sink, dead: &dead}
	u.Record("get", "Get", time.Millisecond, 0, nil)
	u.RecordValue("~schedule_lag", "Get", 5*time.Millisecond)
	u.RecordValue("late_start", "Get", 5*time.Millisecond) // not a value: dropped
	r := rec.Report()
	if r.StatsTotal.NumRequests != 1 || len(r.Stats) != 1 || r.Stats[0].Method != "get" {
		t.Errorf("Locust stats: total %d, entries %+v; want the one get", r.StatsTotal.NumRequests, r.Stats)
	}
	if want := map[string]int{"get": 1, "~schedule_lag": 1}; !maps.Equal(sink.methods, want) {
		t.Errorf("sink saw %v, want %v", sink.methods, want)
	}
	alone := &User{shard: rec.Shard(0), dead: &dead}
	alone.RecordValue("~schedule_lag", "Get", time.Millisecond) // no sink: nothing, no panic
	if n := rec.Report().StatsTotal.NumRequests; n != 0 {
		t.Errorf("a value without a sink reached the Locust stats: %d", n)
	}
}

// endsAfter is a context whose Err turns to Canceled after n calls: a spawn that looks
// at its context between chunks stops after n chunks, with no timing involved.
type endsAfter struct {
	context.Context
	n       atomic.Int64
	onCheck func()
}

func (c *endsAfter) Err() error {
	c.onCheck()
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestSpawnStopsWhenItsContextEnds: a spawn of many users looks at its context between
// chunks; once it ends, the users started so far are kept and counted, the error says
// why, and they wait: no user runs before its spawn returns, nor after an interrupted
// spawn until the next spawn (then they run) or StopAll (then they never start).
func TestSpawnStopsWhenItsContextEnds(t *testing.T) {
	var n userCounts
	us, err := NewUsers([]*UserClass{counting("A", &n, time.Millisecond)}, recorder.New(recorder.Options{}), "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var startedDuring int64 // users in on_start while the spawn looks at its context
	interrupted := func() {
		t.Helper()
		ctx := &endsAfter{Context: context.Background(), onCheck: func() { startedDuring = max(startedDuring, n.running.Load()) }}
		ctx.n.Store(2)
		err := us.SetTargetsContext(ctx, map[string]int{"A": 1_000_000})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "still to start") {
			t.Errorf("SetTargetsContext: %v, want it to wrap context.Canceled and say what was left", err)
		}
		if _, total := us.Counts(); total != 2*spawnChunk {
			t.Errorf("%d users counted, want the %d of the two chunks started", total, 2*spawnChunk)
		}
	}
	interrupted()
	// The next spawn lets them run.
	us.SetTargets(map[string]int{"A": 2 * spawnChunk})
	waitFor(t, "the held users running", func() bool { return n.running.Load() == 2*spawnChunk })
	<-us.StopAll(time.Second)
	if n.running.Load() != 0 {
		t.Errorf("%d users still running after StopAll", n.running.Load())
	}
	// StopAll stops held users before their first task.
	n.inTask.Store(0)
	var tasks atomic.Int64
	us.classes[0].Tasks[0].Fn = func(context.Context, *User) error { tasks.Add(1); return nil }
	us.classes[0].OnStart = func(context.Context, *User) error { tasks.Add(1); return nil }
	interrupted()
	<-us.StopAll(time.Second)
	if startedDuring != 0 || tasks.Load() != 0 {
		t.Errorf("held users ran: %d on_start during the spawns, %d on_start or tasks after", startedDuring, tasks.Load())
	}
}

// TestStopOvertakesASpawn: a StopAll between two chunks of a spawn (here: from the
// spawn's own context check) ends it; no user outlives the stop.
func TestStopOvertakesASpawn(t *testing.T) {
	var n userCounts
	us, err := NewUsers([]*UserClass{counting("A", &n, time.Millisecond)}, recorder.New(recorder.Options{}), "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var stopped <-chan struct{}
	ctx := &stopOnce{Context: context.Background(), stop: func() { stopped = us.StopAll(0) }}
	err = us.SetTargetsContext(ctx, map[string]int{"A": 3 * spawnChunk})
	if err == nil || !strings.Contains(err.Error(), "overtaken") {
		t.Errorf("SetTargetsContext: %v, want it overtaken by the stop", err)
	}
	<-stopped
	if _, total := us.Counts(); total != 0 {
		t.Errorf("%d users counted after the stop", total)
	}
	waitFor(t, "no user running", func() bool { return n.running.Load() == 0 })
}

// stopOnce calls stop on the second look at its Err (after the first chunk).
type stopOnce struct {
	context.Context
	calls int
	stop  func()
}

func (c *stopOnce) Err() error {
	if c.calls++; c.calls == 2 {
		c.stop()
	}
	return nil
}

// TestStopSaysWhenTheStopTimeoutRunsOut: users still in a task when the test's stop
// timeout ends are interrupted, and the log says so once, in Locust's words.
func TestStopSaysWhenTheStopTimeoutRunsOut(t *testing.T) {
	var n userCounts
	logs := &syncBuffer{}
	us, err := NewUsers([]*UserClass{counting("Slow", &n, time.Hour)}, recorder.New(recorder.Options{}), "",
		slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	us.Configure(&Env{}, "", 50*time.Millisecond, nil, nil)
	us.SetTargets(map[string]int{"Slow": 3})
	waitFor(t, "3 users in their task", func() bool { return n.inTask.Load() == 3 })
	<-us.StopAll(50 * time.Millisecond)
	want := `msg="Not all users finished their tasks & terminated in 0.05 seconds. Stopping them..." users=3`
	if got := logs.String(); strings.Count(got, want) != 1 {
		t.Errorf("log:\n%s\nwant once: %s", got, want)
	}
	// A stop that is not the test's stop timeout (a quit) stays quiet.
	us.SetTargets(map[string]int{"Slow": 2})
	waitFor(t, "2 users in their task", func() bool { return n.inTask.Load() == 2 })
	<-us.StopAll(10 * time.Millisecond)
	if got := logs.String(); strings.Count(got, "Not all users") != 1 {
		t.Errorf("a quit's stop logged:\n%s", got)
	}
}

// TestGateLetsEveryoneThrough: more users than tokens pass a gate once it opens, and
// none before.
func TestGateLetsEveryoneThrough(t *testing.T) {
	g := newGate()
	const users = 3 * maxYielding
	var passed sync.WaitGroup
	var mu sync.Mutex
	opened := false
	early := 0
	for range users {
		passed.Add(1)
		go func() {
			defer passed.Done()
			g.pass()
			mu.Lock()
			if !opened {
				early++
			}
			mu.Unlock()
		}()
	}
	mu.Lock()
	opened = true
	mu.Unlock()
	g.open()
	passed.Wait()
	if early != 0 {
		t.Errorf("%d users passed a closed gate", early)
	}
}

// TestUpdateClassAppliesWeightAndHost: what the newest web UI's class editor posts (the
// class's fields, tasks and fixed_count included) sets weight and host and names the
// rest as ignored; an update with a bad value changes nothing.
func TestUpdateClassAppliesWeightAndHost(t *testing.T) {
	var a userCounts
	c := counting("A", &a, time.Millisecond)
	c.Host = "http://before.test"
	us, err := NewUsers([]*UserClass{c}, recorder.New(recorder.Options{}), "", quietLog())
	if err != nil {
		t.Fatal(err)
	}
	ignored, err := us.UpdateClass("A", map[string]any{"user_class_name": "A", "weight": int64(3),
		"host": "http://after.test", "fixed_count": int64(0), "tasks": []any{"t"}})
	if err != nil || c.Weight != 3 || c.Host != "http://after.test" || strings.Join(ignored, ",") != "fixed_count,tasks" {
		t.Errorf("weight %d host %q ignored %v err %v; want 3, http://after.test, [fixed_count tasks]", c.Weight, c.Host, ignored, err)
	}
	// Locust sets the host to None: no host of the class's own.
	if _, err := us.UpdateClass("A", map[string]any{"user_class_name": "A", "host": nil}); err != nil || c.Host != "" {
		t.Errorf("host None: host %q err %v", c.Host, err)
	}
	if _, err := us.UpdateClass("A", map[string]any{"weight": "heavy", "host": "http://bad.test"}); err == nil || c.Weight != 3 || c.Host != "" {
		t.Errorf("bad weight: err %v, weight %d host %q, want an error and nothing changed", err, c.Weight, c.Host)
	}
	if _, err := us.UpdateClass("Nope", map[string]any{"weight": 1}); err == nil {
		t.Errorf("an unknown class was updated")
	}
}
