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
	// Limit is the most users allowed (default: MachineUserLimit); more is an error
	// before anything starts.
	Limit *UserLimit
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
	// OnSpawned is called once all the users are spawned (zero users: never).
	OnSpawned func()
	// Ramps, if set, changes the number of users during the test, as a Locust master
	// does when it is asked to start again with another count: more users are started
	// at the ramp's spawn rate, fewer are stopped at once. A count above Limit runs
	// Limit, and says so.
	Ramps <-chan Ramp
}

// Ramp is a new number of users and how fast to start them (users/s; 0 or less: at
// once).
type Ramp struct {
	Users     int
	SpawnRate float64
}

// RunLocal runs a test without a master: it ramps up the users, reads the recorder
// every ReportEvery, and stops at RunTime or when ctx is done. It then stops the users
// (within StopTimeout), drains what they recorded and delivers a final report, so
// nothing recorded is lost, and returns nil; it returns an error only for bad options.
func RunLocal(ctx context.Context, o LocalOptions) error {
	if o.Users < 0 {
		return fmt.Errorf("users %d: want 0 or more", o.Users)
	}
	limit := o.Limit
	if limit == nil {
		l := MachineUserLimit()
		limit = &l
	}
	if err := limit.Check(o.Users); err != nil {
		return err
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
		// The users also stop by themselves at the run time: with many busy users,
		// this goroutine may get the CPU late (see epoch in users.go).
		deadline, _ := testCtx.Deadline()
		users.SetDeadline(deadline)
	}
	// The users are dispatched step by step, as they start: nothing is held per user
	// that is not running.
	steps := NewDispatcher(o.Classes, o.Users)
	perStep := max(1, int(min(math.Floor(o.SpawnRate), math.MaxInt32)))
	stepWait := time.Duration(float64(perStep) / o.SpawnRate * float64(time.Second))
	spawned := 0
	// spawn starts the next step's users; it returns false if the test ended meanwhile.
	spawn := func() bool {
		spawned = min(satAdd(spawned, perStep), steps.Len())
		if err := users.SetTargetsContext(testCtx, steps.Advance(spawned)); err != nil {
			log.Debug("spawning interrupted", "err", err)
			return false
		}
		if spawned == steps.Len() {
			log.Info("All users spawned", "users", spawned)
			if o.OnSpawned != nil {
				o.OnSpawned()
			}
		}
		return true
	}
	log.Info("Ramping to users", "users", o.Users, "spawn_rate", o.SpawnRate, "run_time", o.RunTime)
	var spawnTick <-chan time.Time
	ended := false
	if steps.Len() > 0 {
		ended = !spawn()
		if !ended && spawned < steps.Len() {
			t := time.NewTicker(stepWait)
			defer t.Stop()
			spawnTick = t.C
		}
	}
	reportTick := time.NewTicker(o.ReportEvery)
	defer reportTick.Stop()
	// retarget goes to r's count: at once down, step by step up at r's rate.
	var rampTicker *time.Ticker
	defer func() {
		if rampTicker != nil {
			rampTicker.Stop()
		}
	}()
	retarget := func(r Ramp) bool {
		n := max(0, r.Users)
		if err := limit.Check(n); err != nil {
			log.Error("a controller asked for more users than this machine holds", "users", n, "limit", limit.Users)
			n = limit.Users
		}
		steps = NewDispatcher(o.Classes, n)
		if spawned >= n {
			spawned = n
			if err := users.SetTargetsContext(testCtx, steps.Advance(n)); err != nil {
				return false
			}
			return true
		}
		perStep = n - spawned
		if r.SpawnRate > 0 && !math.IsInf(r.SpawnRate, 0) {
			perStep = max(1, int(min(math.Floor(r.SpawnRate), math.MaxInt32)))
		}
		if rampTicker != nil {
			rampTicker.Stop()
			spawnTick = nil
		}
		if !spawn() {
			return false
		}
		if spawned < steps.Len() {
			rampTicker = time.NewTicker(time.Duration(float64(perStep) / max(r.SpawnRate, 1e-9) * float64(time.Second)))
			spawnTick = rampTicker.C
		}
		return true
	}
	for !ended {
		select {
		case <-testCtx.Done():
			ended = true
		case r := <-o.Ramps:
			ended = !retarget(r)
		case <-spawnTick:
			if spawned < steps.Len() {
				ended = !spawn()
			}
		case <-reportTick.C:
			report()
		case e := <-users.Exceptions():
			exception(e)
		}
	}
	// A signal while the users finish their tasks does not cut their time short (a
	// second one ends the process, zkload's harness): say once what is being waited
	// for, rather than seem to ignore it.
	var signalled <-chan struct{}
	early := ctx.Err() != nil
	if !early {
		signalled = ctx.Done()
	}
	// The users are told first, logging after: a write may put this goroutine at the
	// back of the scheduler's queue, behind every busy user.
	_, running := users.Counts()
	stopStart := time.Now()
	wait := max(o.StopTimeout, localQuitGrace)
	done := users.StopAll(wait)
	if early {
		log.Info("Stopping early", "reason", context.Cause(ctx), "users", running, "stop_timeout", o.StopTimeout)
	} else {
		log.Info("--run-time limit reached, stopping", "users", running, "stop_timeout", o.StopTimeout)
	}
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case e := <-users.Exceptions():
			exception(e)
		case <-signalled:
			signalled = nil
			left := max(wait-time.Since(stopStart), 0)
			log.Info(fmt.Sprintf("Stopping: waiting up to %s more for users to finish their tasks (stop timeout %s), then %s at most for them to return",
				left.Round(time.Millisecond), o.StopTimeout, abandonAfter), "reason", context.Cause(ctx))
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
