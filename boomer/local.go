package boomer

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/record"
)

// localQuitGrace is the least time users get to finish a request in flight at the end.
const localQuitGrace = 100 * time.Millisecond

// LocalOptions configures RunLocal.
type LocalOptions struct {
	Classes []*UserClass
	// Users is the number of users to run; SpawnRate (users per second, > 0) ramps them
	// up as a Locust master does: max(1, floor(rate)) users every that-many/rate seconds.
	Users     int
	SpawnRate float64
	// RunTime, if positive, ends the test that long after it starts (ramp included).
	RunTime time.Duration
	// Host, if set, overrides the classes' hosts.
	Host string
	// StopTimeout is how long stopping users may finish their current task; at least
	// 100 ms is given, as a worker gives when it quits, so that requests in flight
	// are recorded rather than lost.
	StopTimeout time.Duration
	// ReportEvery is how often the recorder is read (default 1 s).
	ReportEvery time.Duration
	// Sink, if set, also receives every request (extended statistics).
	Sink   record.Sink
	Logger *slog.Logger
	// Recorder, if set, is recorded into; otherwise a new one is used.
	Recorder *recorder.Recorder

	// OnReport receives every delta read from the recorder, with the users running
	// per class filled in, as a worker would send it; the last one comes after every
	// user has stopped. OnException receives the users' exceptions. Both are called
	// from RunLocal's goroutine only.
	OnReport    func(wire.StatsReport)
	OnException func(wire.Exception)
}

// RunLocal runs a test without a master: it ramps up the users, reads the recorder
// every ReportEvery, and stops at RunTime or when ctx is done. It then stops the users
// (within StopTimeout), drains what they recorded and delivers a final report, so
// nothing recorded is lost, and returns nil; it returns an error only for bad options.
func RunLocal(ctx context.Context, o LocalOptions) error {
	if o.Users < 0 {
		return fmt.Errorf("users %d: want 0 or more", o.Users)
	}
	if !(o.SpawnRate > 0) || math.IsInf(o.SpawnRate, 0) {
		return fmt.Errorf("spawn rate %v: want a positive number", o.SpawnRate)
	}
	if o.ReportEvery <= 0 {
		o.ReportEvery = time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	rec := o.Recorder
	if rec == nil {
		rec = recorder.New(recorder.Options{})
	}
	users, err := NewUsers(o.Classes, rec, o.Host, log)
	if err != nil {
		return err
	}
	if o.Sink != nil {
		users.SetSink(o.Sink)
	}
	users.Configure(&Env{}, "", o.StopTimeout, nil, nil)
	report := func() {
		rep := rec.Report()
		rep.UserClassesCount, rep.UserCount = users.Counts()
		if o.OnReport != nil {
			o.OnReport(rep)
		}
	}
	exception := func(e wire.Exception) {
		if o.OnException != nil {
			o.OnException(e)
		}
	}

	rec.Clear()
	testCtx := ctx
	if o.RunTime > 0 {
		var cancel context.CancelFunc
		testCtx, cancel = context.WithTimeout(ctx, o.RunTime)
		defer cancel()
	}
	steps := Dispatch(o.Classes, o.Users)
	perStep := max(1, int(math.Floor(o.SpawnRate)))
	stepWait := time.Duration(float64(perStep) / o.SpawnRate * float64(time.Second))
	spawned := 0
	spawn := func() {
		spawned = min(spawned+perStep, len(steps))
		users.SetTargets(steps[spawned-1])
		if spawned == len(steps) {
			log.Info("All users spawned", "users", spawned)
		}
	}
	log.Info("Ramping to users", "users", o.Users, "spawn_rate", o.SpawnRate, "run_time", o.RunTime)
	var spawnTick <-chan time.Time
	if len(steps) > 0 {
		spawn()
		if spawned < len(steps) {
			t := time.NewTicker(stepWait)
			defer t.Stop()
			spawnTick = t.C
		}
	}
	reportTick := time.NewTicker(o.ReportEvery)
	defer reportTick.Stop()
loop:
	for {
		select {
		case <-testCtx.Done():
			break loop
		case <-spawnTick:
			if spawned < len(steps) {
				spawn()
			}
		case <-reportTick.C:
			report()
		case e := <-users.Exceptions():
			exception(e)
		}
	}
	if ctx.Err() != nil {
		log.Info("Stopping early", "reason", context.Cause(ctx))
	} else {
		log.Info("--run-time limit reached, stopping")
	}
	done := users.StopAll(max(o.StopTimeout, localQuitGrace))
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case e := <-users.Exceptions():
			exception(e)
		}
	}
	for drained := false; !drained; {
		select {
		case e := <-users.Exceptions():
			exception(e)
		default:
			drained = true
		}
	}
	report()
	return nil
}

// Dispatch returns, for each of the first n users a Locust master would dispatch to
// a single worker, the per-class targets once that user is running: classes with a
// FixedCount first, then the others by weight in smooth weighted round robin, as
// Locust's UsersDispatcher orders them.
func Dispatch(classes []*UserClass, n int) []map[string]int {
	var fixed, weighted []*UserClass
	for _, c := range classes {
		if c.FixedCount > 0 {
			fixed = append(fixed, c)
		} else {
			weighted = append(weighted, c)
		}
	}
	counts := map[string]int{}
	for _, c := range classes {
		counts[c.Name] = 0
	}
	out := make([]map[string]int, 0, n)
	add := func(name string) {
		counts[name]++
		m := make(map[string]int, len(counts))
		for k, v := range counts {
			m[k] = v
		}
		out = append(out, m)
	}
	fixedGen := cycle(fixed, func(c *UserClass) int { return c.FixedCount })
	for left := len(fixed); left > 0 && len(out) < n; {
		c := fixedGen()
		if counts[c.Name] < c.FixedCount {
			add(c.Name)
			if counts[c.Name] == c.FixedCount {
				left--
			}
		}
	}
	if len(weighted) == 0 {
		return out
	}
	weightedGen := cycle(weighted, func(c *UserClass) int { return max(c.Weight, 1) })
	for len(out) < n {
		add(weightedGen().Name)
	}
	return out
}

// cycle is Locust's infinite_cycle_gen: values normalised so that the smallest is 2,
// one round of smooth weighted round robin over them, repeated.
func cycle(classes []*UserClass, value func(*UserClass) int) func() *UserClass {
	if len(classes) == 0 {
		return func() *UserClass { return nil }
	}
	minV := value(classes[0])
	for _, c := range classes {
		minV = min(minV, value(c))
	}
	weights := make([]int, len(classes))
	total := 0
	for i, c := range classes {
		weights[i] = int(math.RoundToEven(2 * float64(value(c)) / float64(minV)))
		total += weights[i]
	}
	current := make([]int, len(classes))
	round := make([]*UserClass, total)
	for k := range round {
		if len(classes) == 1 {
			round[k] = classes[0]
			continue
		}
		best := -1
		for i := range classes {
			current[i] += weights[i]
			if best < 0 || current[best] < current[i] {
				best = i
			}
		}
		current[best] -= total
		round[k] = classes[best]
	}
	i := 0
	return func() *UserClass {
		c := round[i%len(round)]
		i++
		return c
	}
}
