// Package openloop paces an open loop: operations are planned at a rate, whatever the
// server's answers, and each operation's latency is measured from its planned start, so
// a stalled server shows up in the latencies instead of silently lowering the rate
// (coordinated omission, as wrk2 corrects it). Both workloads (tasks/zookeeper,
// tasks/httpload) pace their users with a Pacer; a controller may change its rate
// during a run (SetRate) and read what it planned and what was taken (Counts).
//
// It knows nothing of users, Locust or the transport: it imports only record, for the
// value series under which the workloads record how late starts were (ScheduleLag).
package openloop

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/record"
)

// ScheduleLag is the value series (record.ValuePrefix) under which the workloads record
// a late start, with the class's stats name and how late it was taken as its time: it
// goes to the extended statistics, never to Locust's request totals.
const ScheduleLag = record.ValuePrefix + "schedule_lag"

// LateTolerance is how far behind its plan a start may be taken and still count as on
// time: about the granularity of the OS's timers.
const LateTolerance = time.Millisecond

// Pacer plans an open loop for the users of one worker: the plan's position advances
// at the rate, operation k (from 0) is due when the position reaches k, and whichever
// user is free takes the next one (wrk2's constant-throughput plan, go-hammer's even
// spread). At a constant rate R operation k is due at start + k/R.
//
// A start taken more than LateTolerance after it was due (every user was busy when it
// fell due; a user's timer waking late is not counted) is late: it still runs at once, so the rate catches up, and it is counted.
//
// SetRate changes the rate from the current position on: the operations already due
// keep their times (a backlog is still owed, as the server owes it), and the next one
// falls due when the position, now advancing at the new rate, reaches it. The number
// of operations planned in any window is the integral of the rate over it, within one:
// a change makes neither a burst nor a gap. A rate of 0 pauses the plan: no operation
// falls due (users wait in Next) until a positive rate resumes it from where it stopped.
// It does not turn the users into a closed loop: that is a user's own way of working,
// and a controller that pauses the offered load wants none.
//
// The plan starts when the first user joins and stops when the last one leaves; the
// next start begins a new plan, with no backlog from the idle time. The rate is kept.
//
// A Pacer is safe for concurrent use.
type Pacer struct {
	now  func() time.Time
	base time.Time

	mu      sync.Mutex
	rate    float64
	users   int
	running bool
	head    *segment      // the segment of operation next
	tail    *segment      // the current segment
	next    int64         // the next operation to hand out
	frozen  int64         // Planned while the plan is stopped
	changed chan struct{} // closed, and replaced, when the plan changes

	taken, late, skipped atomic.Int64
}

// segment is a stretch of the plan at one rate: from at (after base) the position
// advances from x at rate operations per second. The operations of a segment are those
// from x up to the next segment's x.
type segment struct {
	at   time.Duration
	x    float64
	rate float64  // 0: paused
	next *segment // the segment that followed; nil for the current one
}

// position is the plan's position at t (t >= s.at, while s is current).
func (s *segment) position(t time.Duration) float64 {
	if s.rate == 0 || t <= s.at {
		return s.x
	}
	return s.x + (t-s.at).Seconds()*s.rate
}

// due is when operation k of the segment falls due (after base); ok is false while it
// never does (a paused plan).
func (s *segment) due(k int64) (at time.Duration, ok bool) {
	d := float64(k) - s.x
	if d <= 0 {
		return s.at, true
	}
	if s.rate == 0 {
		return 0, false
	}
	return s.at + time.Duration(math.Round(d/s.rate*1e9)), true
}

// segmentFor walks from s to the segment that holds operation k: the last one whose
// position starts at or before k. Callers hold mu.
func segmentFor(s *segment, k int64) *segment {
	for s.next != nil && s.next.x <= float64(k) {
		s = s.next
	}
	return s
}

// New returns a Pacer planning rate operations per second (0: paused), on the system
// clock. It panics on a negative, infinite or NaN rate, which settings never give.
func New(rate float64) *Pacer { return NewWithClock(rate, time.Now) }

// NewWithClock is New on the given clock, which must not go backwards; tests use it.
func NewWithClock(rate float64, now func() time.Time) *Pacer {
	if err := checkRate(rate); err != nil {
		panic(err)
	}
	return &Pacer{now: now, base: now(), rate: rate, changed: make(chan struct{})}
}

func checkRate(r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 {
		return fmt.Errorf("openloop: rate %v: want operations per second, 0 or more", r)
	}
	return nil
}

// since is the clock's time after base, never before the current segment's start.
// Callers hold mu.
func (p *Pacer) since() time.Duration {
	t := p.now().Sub(p.base)
	if p.tail != nil && t < p.tail.at {
		t = p.tail.at
	}
	return t
}

// Rate is the planned operations per second now (0: paused).
func (p *Pacer) Rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// SetRate changes the rate from now on (see Pacer): no burst of catch-up operations,
// no gap; 0 pauses. Users waiting for an operation not yet due wait for its new time.
// Before the plan starts, or while it is stopped, it sets the rate the next plan runs at.
func (p *Pacer) SetRate(r float64) error {
	if err := checkRate(r); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = r
	if !p.running || p.tail.rate == r {
		return nil
	}
	now := p.since()
	s := &segment{at: now, x: p.tail.position(now), rate: r}
	p.tail.next = s
	p.tail = s
	p.broadcast()
	return nil
}

// broadcast wakes the users waiting in Next to look at the plan again. Callers hold mu.
func (p *Pacer) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Join adds a user; the first one starts the plan now: its next operation is due at
// once (one interval after a rate resumes a paused plan).
func (p *Pacer) Join() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users++
	if !p.running {
		p.start()
	}
}

// Leave removes a user, after its last Next returned; the last one stops the plan: the
// operations due and not taken are skipped.
func (p *Pacer) Leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == 0 {
		return
	}
	p.users--
	if p.users == 0 && p.running {
		p.stop()
	}
}

// start begins a plan at operation next, due now; a paused plan starts one operation
// before it, so that operation falls due one interval after a rate resumes the plan.
// Callers hold mu.
func (p *Pacer) start() {
	x := float64(p.next)
	if p.rate == 0 {
		x--
	}
	s := &segment{at: p.now().Sub(p.base), x: x, rate: p.rate}
	p.head, p.tail = s, s
	p.running = true
	p.broadcast()
}

// stop ends the plan now; the operations due and never taken are skipped. Callers hold mu.
func (p *Pacer) stop() {
	planned := p.plannedLocked()
	if planned > p.next {
		p.skipped.Add(planned - p.next)
		p.next = planned
	}
	p.frozen = max(planned, p.next) // with the operations of users that stopped waiting
	p.running = false
	p.head, p.tail = nil, nil
	p.broadcast()
}

// plannedLocked is the number of operations due so far. Callers hold mu.
func (p *Pacer) plannedLocked() int64 {
	if !p.running {
		return p.frozen
	}
	return int64(math.Floor(p.tail.position(p.since()))) + 1
}

// Next takes the next planned operation and waits until it is due. It returns the
// planned start, from which the operation's latency is measured, and how late it was
// taken when later than LateTolerance (0 when on time). A Next before any Join starts
// the plan. When ctx ends first, the operation is skipped and ctx's error returned.
func (p *Pacer) Next(ctx context.Context) (time.Time, time.Duration, error) {
	p.mu.Lock()
	if !p.running {
		p.start()
	}
	k := p.next
	p.next++
	p.head = segmentFor(p.head, k)
	s := p.head
	due, ok := s.due(k)
	changed := p.changed
	p.mu.Unlock()

	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var tick <-chan time.Time
		if ok {
			d := due - p.now().Sub(p.base)
			if d <= 0 {
				p.taken.Add(1)
				if -d > LateTolerance {
					p.late.Add(1)
					return p.base.Add(due), -d, nil
				}
				return p.base.Add(due), 0, nil
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			tick = timer.C
		}
		select {
		case <-tick:
			select {
			case <-changed: // the plan changed meanwhile: look again
			default:
				// Due: on time. A timer's own delay is not lateness (every user busy
				// when the start fell due); it is in the latency all the same.
				p.taken.Add(1)
				return p.base.Add(due), 0, nil
			}
		case <-changed:
		case <-ctx.Done():
			p.skipped.Add(1)
			return p.base.Add(due), 0, ctx.Err()
		}
		p.mu.Lock()
		s = segmentFor(s, k)
		due, ok = s.due(k)
		changed = p.changed
		p.mu.Unlock()
	}
}

// Counts are what a Pacer planned and what was taken, since it was made.
type Counts struct {
	// Rate is the planned operations per second now (0: paused).
	Rate float64
	// Users is the number of users joined.
	Users int
	// Planned is the number of operations that have fallen due (when a plan stops, with
	// those handed out that users stopped waiting for), so that Taken + Skipped + the
	// backlog is Planned.
	Planned int64
	// Taken is the number of operations started (Next returned them, due).
	Taken int64
	// Late is the number of those started more than LateTolerance after they were due.
	Late int64
	// Skipped is the number of operations handed out or due that never started: those
	// left when a plan's last user left, and those of users stopped while waiting.
	Skipped int64
}

// Backlog is the number of operations due and not started: every user was busy.
func (c Counts) Backlog() int64 { return max(0, c.Planned-c.Taken-c.Skipped) }

// Counts returns the Pacer's counts now.
func (p *Pacer) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Counts{Rate: p.rate, Users: p.users, Planned: p.plannedLocked(),
		Taken: p.taken.Load(), Late: p.late.Load(), Skipped: p.skipped.Load()}
}

// Late is the number of starts taken after they were due, since the Pacer was made.
func (p *Pacer) Late() int64 { return p.late.Load() }

// Taken is the number of starts taken since the Pacer was made.
func (p *Pacer) Taken() int64 { return p.taken.Load() }

// Shared hands the users of one worker's classes one Pacer, at the rate their settings
// ask for: users read their settings when they start (the master's options may change
// between tests), so each asks with its rate. A controller reaches the same Pacer
// (Pacer) and may change its rate during a run; the settings' rate is set again only
// when a user asks for a different one (a new test's). The zero value is ready to use.
type Shared struct {
	mu      sync.Mutex
	pacer   *Pacer
	rate    float64 // the rate the settings last asked for
	steered bool    // a controller sets the rate (Steer): the settings' is not used
}

// For returns the Pacer for a user whose settings ask for rate (above 0; it panics on
// a negative, infinite or NaN one, which settings never give). While a controller
// steers the plan (Steer), the rate asked is ignored.
func (s *Shared) For(rate float64) *Pacer {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.steered:
		return s.pacer
	case s.pacer == nil:
		s.pacer = New(rate)
	case s.rate != rate:
		if err := s.pacer.SetRate(rate); err != nil {
			panic(err)
		}
	}
	s.rate = rate
	return s.pacer
}

// Steer hands the plan to a controller, at rate (0: paused until it decides): from now
// on every user joins the plan, whatever its settings' rate (Steered), and only the
// controller changes the rate (SetRate on Pacer). It returns an error for a negative,
// infinite or NaN rate.
func (s *Shared) Steer(rate float64) error {
	if err := checkRate(rate); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steered = true
	if s.pacer == nil {
		s.pacer = New(rate)
		return nil
	}
	return s.pacer.SetRate(rate)
}

// Release ends Steer: users join the plan again only when their settings ask for a
// rate, which the next of them sets.
func (s *Shared) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steered = false
	s.rate = -1 // no rate asked since: the next For sets its own
}

// Steered reports whether a controller steers the plan: users join it even when their
// settings ask for the closed loop. A nil Shared is never steered.
func (s *Shared) Steered() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.steered
}

// Pacer returns the worker's Pacer, nil until a user asked for one.
func (s *Shared) Pacer() *Pacer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pacer
}
