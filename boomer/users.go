package boomer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/record"
)

// abandonAfter is how long a stop waits, after cancelling a user's context, for its
// goroutine to return. A task that ignores its context is abandoned after that, and
// whatever it records later is dropped so that it cannot leak into the next test.
const abandonAfter = time.Second

// startRetry is the pause between OnStart attempts of a user whose OnStart failed.
const startRetry = time.Second

// Users runs the users of a set of classes: it starts and stops goroutines to meet
// per-class targets. It is the part of a worker that the master's spawn and stop drive,
// and it can also be driven directly (a standalone run).
type Users struct {
	log        *slog.Logger
	rec        *recorder.Recorder
	exceptions chan wire.Exception
	dropped    atomic.Int64
	sink       record.Sink // optional: every request also goes here

	mu          sync.Mutex
	classes     []*UserClass
	byName      map[string]*UserClass
	running     map[string][]*handle
	unknown     map[string]bool // class names the master asked for that we do not have
	nextID      int
	gen         int // bumped by every spawn and stop: an older spawn in progress gives up
	epoch       *epoch
	held        []gate // gates of spawns that their context interrupted
	admission   *admission
	env         *Env
	host        string // overrides every other host when set
	masterHost  string
	stopTimeout time.Duration
	tags        []string
	exclude     []string
}

// epoch is what the users started since the last StopAll share: a flag StopAll sets
// before anything else, and a deadline. Each user looks at both before each task, so
// that many busy users stop at once, by themselves: the goroutine that would stop them
// one by one waits for the CPU behind them (Go's scheduler gives every runnable
// goroutine its turn first, and users that fail fast and never wait are always
// runnable), and with 100,000 such users a round of turns takes seconds.
type epoch struct {
	halted   atomic.Bool
	deadline atomic.Int64 // unix nanoseconds; 0: none
}

func (e *epoch) over() bool {
	if e.halted.Load() {
		return true
	}
	d := e.deadline.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

type handle struct {
	u    *User
	soft context.CancelFunc // stop after the current task
	hard context.CancelFunc // stop now
	done chan struct{}
	dead atomic.Bool
}

// NewUsers prepares users of the given classes recording into rec. host, if set,
// overrides the master's and the classes' hosts.
func NewUsers(classes []*UserClass, rec *recorder.Recorder, host string, log *slog.Logger) (*Users, error) {
	if log == nil {
		log = slog.Default()
	}
	p := &Users{
		log:        log,
		rec:        rec,
		exceptions: make(chan wire.Exception, 256),
		byName:     map[string]*UserClass{},
		running:    map[string][]*handle{},
		unknown:    map[string]bool{},
		env:        &Env{},
		host:       host,
		epoch:      &epoch{},
		admission:  newAdmission(),
	}
	for _, c := range classes {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if _, dup := p.byName[c.Name]; dup {
			return nil, fmt.Errorf("user class %s is defined twice", c.Name)
		}
		p.byName[c.Name] = c
		p.classes = append(p.classes, c)
	}
	return p, nil
}

// SetSink makes every request recorded by users started afterwards also go to s, and
// the values they record (User.RecordValue) go to s alone.
func (p *Users) SetSink(s record.Sink) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sink = s
}

// extraOf returns the extra sink's recorder for user id and whether it records under
// the user's Locust shard's lock (a record.LockedSink).
func (p *Users) extraOf(id int) (record.Recorder, bool) {
	switch s := p.sink.(type) {
	case nil:
		return nil, false
	case record.LockedSink:
		return s.LockedShard(p.rec.Shard(id).Locker()), true
	default:
		return s.Shard(id), false
	}
}

// Exceptions delivers unhandled task errors and panics, to be sent to the master.
func (p *Users) Exceptions() <-chan wire.Exception { return p.exceptions }

// Configure applies a test's settings from the master; users started afterwards use them.
func (p *Users) Configure(env *Env, masterHost string, stopTimeout time.Duration, tags, exclude []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.env, p.masterHost, p.stopTimeout, p.tags, p.exclude = env, masterHost, stopTimeout, tags, exclude
}

// UpdateClass applies a master's update_user_class (Locust 2.25+, the web UI's class
// editor): weight and host. It returns the other attributes, which it ignores: the
// master dispatches the users itself (fixed_count), and its task names are not this
// worker's (tasks).
func (p *Users) UpdateClass(name string, attrs map[string]any) (ignored []string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.byName[name]
	if !ok {
		return nil, fmt.Errorf("no user class %q", name)
	}
	// Check everything before changing anything: an update applies whole or not at all.
	weight, host := c.Weight, c.Host
	for k, v := range attrs {
		switch k {
		case "user_class_name":
		case "weight":
			w, ok := wire.Number(v)
			if !ok {
				return nil, fmt.Errorf("user class %q: weight %v is not a number", name, v)
			}
			weight = int(w)
		case "host":
			h, ok := v.(string)
			if !ok && v != nil {
				return nil, fmt.Errorf("user class %q: host %v is not text", name, v)
			}
			host = h
		default:
			ignored = append(ignored, k)
		}
	}
	c.Weight, c.Host = weight, host
	slices.Sort(ignored)
	return ignored, nil
}

// Counts returns the users running per class, every class included (zeros too), plus
// any class the master asked for that this worker does not have, as 0.
func (p *Users) Counts() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.classes)+len(p.unknown))
	total := 0
	for _, c := range p.classes {
		n := len(p.running[c.Name])
		out[c.Name] = n
		total += n
	}
	for name := range p.unknown {
		out[name] = 0
	}
	return out, total
}

// spawnChunk is how many users SetTargetsContext starts with the lock held, between
// two looks at its context.
const spawnChunk = 1024

// SetTargets is SetTargetsContext without a context: it spawns every user asked for.
func (p *Users) SetTargets(targets map[string]int) {
	_ = p.SetTargetsContext(context.Background(), targets)
}

// SetTargetsContext starts or stops users so that each class runs as many as targets
// says. One call may raise one class and lower another. Stopped users finish in the
// background (within the stop timeout); the counts change at once.
//
// New users start in chunks, ctx checked between them; each chunk's goroutines reach
// their gate before the next chunk starts, so that no more than a chunk of new
// goroutines ever waits for the CPU. The users of one call are held at a gate until it
// returns, so that a large spawn is not slowed by its own users competing for the CPU
// (users that fail fast and never wait would otherwise starve the spawning goroutine,
// and the signal or run time that should end it), then let through a few at a time
// (see gate). If ctx ends, the users started so far are kept and counted, but held
// until the next SetTargetsContext (they then run) or StopAll (they stop before their
// first task), and an error wrapping ctx's cause is returned: a run that is ending
// does not release thousands of users only to stop them. If StopAll or another
// SetTargetsContext overtakes this one, it returns an error saying so.
func (p *Users) SetTargetsContext(ctx context.Context, targets map[string]int) error {
	p.mu.Lock()
	p.releaseHeld()
	for name, n := range targets {
		if _, ok := p.byName[name]; !ok {
			if n > 0 {
				p.log.Error("master asked for users of a class this worker does not have; reporting 0",
					"class", name, "count", n)
				p.unknown[name] = true
			}
		}
	}
	p.gen++
	gen := p.gen
	var stopping []*handle
	toStart := make([]int, len(p.classes))
	for i, c := range p.classes {
		want, have := max(targets[c.Name], 0), len(p.running[c.Name])
		switch {
		case want > have:
			toStart[i] = want - have
		case want < have:
			// Like Locust, the most recently started users stop first.
			stopping = append(stopping, p.running[c.Name][want:]...)
			clear(p.running[c.Name][want:]) // let the stopped users' memory go
			p.running[c.Name] = p.running[c.Name][:want]
		}
	}
	stopTimeout := p.stopTimeout
	p.mu.Unlock()
	if len(stopping) > 0 {
		p.stop(stopping, stopTimeout, true)
	}
	g := newGate()
	for i, c := range p.classes {
		for left := toStart[i]; left > 0; {
			if ctx.Err() != nil {
				p.mu.Lock()
				if p.gen == gen {
					p.held = append(p.held, g)
				} else {
					g.open() // a StopAll came first: its users stop at once
				}
				p.mu.Unlock()
				return fmt.Errorf("spawning %s users stopped with %d still to start: %w", c.Name, left, context.Cause(ctx))
			}
			n := min(left, spawnChunk)
			p.mu.Lock()
			if p.gen != gen {
				p.mu.Unlock()
				g.open()
				return fmt.Errorf("spawning %s users stopped with %d still to start: overtaken by a stop or a new spawn", c.Name, left)
			}
			var atGate sync.WaitGroup
			atGate.Add(n)
			for range n {
				p.running[c.Name] = append(p.running[c.Name], p.start(c, g, &atGate))
			}
			p.mu.Unlock()
			atGate.Wait()
			left -= n
		}
	}
	g.open()
	return nil
}

// releaseHeld opens the gates of interrupted spawns. p.mu must be held.
func (p *Users) releaseHeld() {
	for _, g := range p.held {
		g.open()
	}
	p.held = nil
}

// gate holds the users of a spawn until it opens, then lets them through in the
// order they came, maxYielding at a time: each user passes its token on as it starts.
// Closing a channel would make them all runnable at once, and the goroutines that
// must end the run (a signal's, the run time's) would wait behind every one of them
// doing its first, costliest task.
type gate chan struct{}

func newGate() gate { return make(gate, maxYielding) }

// open lets the users through. It is called once per gate.
func (g gate) open() {
	for range cap(g) {
		g <- struct{}{}
	}
}

// pass waits for the user's turn through the gate and hands the token on.
func (g gate) pass() {
	<-g
	g <- struct{}{} // never blocks: there are cap(g) tokens in all
}

// SetDeadline makes the users running and those started until the next StopAll stop
// by themselves once t has passed (the zero time: no deadline), as StopAll would stop
// them (they finish their current task); StopAll must still be called. It keeps a run
// time when the caller that would call StopAll waits behind many busy users for the
// CPU.
func (p *Users) SetDeadline(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var d int64
	if !t.IsZero() {
		d = t.UnixNano()
	}
	p.epoch.deadline.Store(d)
}

// StopAll stops every user: each finishes its current task, for at most timeout (0:
// at once), then is interrupted. The channel closes when all have returned or been
// abandoned. If timeout is the test's stop timeout (Configure) and users are still
// busy when it ends, that is logged once, in Locust's words.
func (p *Users) StopAll(timeout time.Duration) <-chan struct{} {
	p.mu.Lock()
	// First, one store that every running user sees before its next task; the loop
	// below then wakes those that wait.
	p.epoch.halted.Store(true)
	p.epoch = &epoch{}
	p.releaseHeld() // their users see the halt and return
	p.gen++         // a spawn in progress stops adding users
	var all []*handle
	for name, hs := range p.running {
		all = append(all, hs...)
		delete(p.running, name)
	}
	clear(p.unknown)
	announce := timeout > 0 && timeout == p.stopTimeout
	p.mu.Unlock()
	return p.stop(all, timeout, announce)
}

func (p *Users) stop(hs []*handle, timeout time.Duration, announce bool) <-chan struct{} {
	done := make(chan struct{})
	for _, h := range hs {
		if timeout <= 0 {
			h.hard()
		} else {
			h.soft()
		}
	}
	p.admission.release() // users waiting to enter a task see their stop
	go func() {
		defer close(done)
		deadline := time.NewTimer(timeout)
		defer deadline.Stop()
		for i, h := range hs {
			select {
			case <-h.done:
				continue
			case <-deadline.C:
			}
			if announce {
				left := 0
				for _, h := range hs[i:] {
					select {
					case <-h.done:
					default:
						left++
					}
				}
				// Locust's words (runners.py, stop_users).
				p.log.Info(fmt.Sprintf("Not all users finished their tasks & terminated in %s seconds. Stopping them...",
					strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64)), "users", left)
			}
			for _, h := range hs {
				h.hard()
			}
			break
		}
		abandon := time.NewTimer(abandonAfter)
		defer abandon.Stop()
		for _, h := range hs {
			select {
			case <-h.done:
			case <-abandon.C:
				left := 0
				for _, h := range hs {
					h.dead.Store(true)
					select {
					case <-h.done:
					default:
						left++
					}
				}
				p.log.Warn("some users did not stop; abandoning them", "users", left, "of", len(hs))
				return
			}
		}
	}()
	return done
}

func (p *Users) start(c *UserClass, g gate, atGate *sync.WaitGroup) *handle {
	id := p.nextID
	p.nextID++
	host := p.host
	if host == "" {
		host = p.masterHost
	}
	if host == "" {
		host = c.Host
	}
	h := &handle{done: make(chan struct{})}
	h.u = &User{
		Class: c,
		ID:    id,
		Host:  host,
		Rand:  rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(id))),
		env:   p.env,
		shard: p.rec.Shard(id),
		dead:  &h.dead,
	}
	h.u.extra, h.u.locked = p.extraOf(id)
	soft, softCancel := context.WithCancel(context.Background())
	hard, hardCancel := context.WithCancel(context.Background())
	h.soft = softCancel
	h.hard = func() { softCancel(); hardCancel() }
	tasks := filterTasks(c.Tasks, p.tags, p.exclude)
	go p.run(h, soft, hard, tasks, p.stopTimeout, g, atGate, p.epoch)
	return h
}

func (p *Users) run(h *handle, soft, hard context.Context, tasks []Task, stopTimeout time.Duration, g gate, atGate *sync.WaitGroup, ep *epoch) {
	defer close(h.done)
	defer h.hard() // release the contexts
	stopped := func() bool { return soft.Err() != nil || ep.over() }
	atGate.Done()
	g.pass() // opened when its spawn returns (if interrupted: at the next spawn or StopAll)
	if stopped() {
		return // stopped before it started: no on_start, no on_stop
	}
	u, c := h.u, h.u.Class
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sleep := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-timer.C:
			return true
		case <-soft.Done():
			timer.Stop()
			return false
		}
	}
	if c.OnStart != nil {
		for {
			err := p.call(u, "on_start", func() error { return c.OnStart(hard, u) })
			if err == nil {
				break
			}
			if hard.Err() == nil {
				p.exception(err.Error(), fmt.Sprintf("%s.on_start", c.Name))
			}
			if !sleep(startRetry) || stopped() {
				return
			}
		}
	}
	if c.OnStop != nil {
		defer func() {
			bound := stopTimeout
			if bound < time.Second {
				bound = time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), bound)
			defer cancel()
			_ = p.call(u, "on_stop", func() error { c.OnStop(ctx, u); return nil })
		}()
	}
	pk := newPicker(tasks, c.Sequential)
	for !stopped() {
		t := pk.pick(u.Rand)
		if t == nil {
			<-soft.Done()
			return
		}
		if !p.admission.enter(stopped) {
			return
		}
		start := time.Now()
		err := p.call(u, t.Name, func() error { return t.Fn(hard, u) })
		ran := time.Since(start)
		p.admission.leave()
		if err != nil && hard.Err() == nil && !errors.Is(err, context.Canceled) {
			p.exception(err.Error(), fmt.Sprintf("%s.%s", c.Name, t.Name))
		}
		if c.Wait != nil {
			if d := c.Wait(u.Rand, ran); d > 0 && !sleep(d) {
				return
			}
		}
	}
}

// call runs fn, turning a panic into a recorded failure and an exception with the Go
// stack, as an unhandled error in a Python task would be reported.
func (p *Users) call(u *User, what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("panic: %v", r)
			u.Record("task", u.Class.Name+"."+what, 0, 0, errors.New(msg))
			p.exception(msg, string(debug.Stack()))
			err = nil
		}
	}()
	return fn()
}

func (p *Users) exception(msg, traceback string) {
	select {
	case p.exceptions <- wire.Exception{Msg: msg, Traceback: traceback}:
	default:
		if n := p.dropped.Add(1); n == 1 || n%1000 == 0 {
			p.log.Warn("exceptions dropped: too many to report", "dropped", n)
		}
	}
}
