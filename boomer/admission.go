package boomer

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxYielding is how many users of a spawn's gate pass at once (see gate).
const maxYielding = 256

// The admission's limits and the pace of its probe (see admission).
const (
	probeEvery    = 20 * time.Millisecond // how often the probe measures a round
	roundTooLong  = 50 * time.Millisecond // a round this long halves the limit
	roundShort    = 10 * time.Millisecond // calmRounds in a row this short double it, if users wait
	calmRounds    = 10
	probeIdle     = time.Second    // the probe ends after this long with no user in a task
	minAdmitted   = 8              // the limit never goes below this
	startAdmitted = 1024           // the limit at the start
	maxAdmitted   = int64(1) << 40 // the limit never grows past this
)

// admission bounds how many users are inside a task at once, and does so only while
// the CPU is saturated by runnable goroutines.
//
// Why: a goroutine woken from a system call when every P is busy joins the back of Go's
// global run queue, and so does the goroutine that receives a signal (os/signal's loop
// wakes from a blocking system call). With 100,000 users that fail fast (a refused
// connection) and never wait, nearly all of them are runnable at any instant, the
// global queue holds tens of thousands, and the first SIGTERM is seen seconds late;
// their response times then measure our own run queue, not the server.
//
// How: a probe, woken by a timer every probeEvery, yields once (which puts it at the
// back of the global queue, where the signal goroutine would be) and measures how long
// it waited: a round. A round longer than roundTooLong halves the limit (down to the
// users inside a task now, halved); calmRounds rounds in a row shorter than roundShort
// double it while users wait for it (one short round says little: a P whose local
// queue ran dry takes from the global one at once). Users blocked in I/O (a slow server) are not runnable, so rounds
// stay short and the limit grows past the user count within a few probes: the
// admission then changes nothing. Users beyond the limit wait in a FIFO queue (a
// sync.Cond, whose waiters wake in order) without being runnable. Throughput is not
// lost: while the limit is low the CPU is busy anyway.
//
// Liveness: a user waits only while inside >= limit >= minAdmitted, so someone is
// inside; every leave wakes the longest waiter while any wait; a woken waiter that
// finds no room waits again, and one that gives up (stopped) passes its wake on.
type admission struct {
	inside  atomic.Int64 // users inside a task
	queued  atomic.Int64 // users waiting to enter
	limit   atomic.Int64
	probing atomic.Bool // a probe goroutine runs

	mu   sync.Mutex
	cond sync.Cond
}

func newAdmission() *admission {
	a := &admission{}
	a.cond.L = &a.mu
	a.limit.Store(startAdmitted)
	return a
}

// enter waits until the user may run a task, and returns true; or false if stopped
// reports true when it is woken to check (see release).
func (a *admission) enter(stopped func() bool) bool {
	if !a.probing.Load() && a.probing.CompareAndSwap(false, true) {
		go a.probe()
	}
	if a.queued.Load() == 0 {
		if a.inside.Add(1) <= a.limit.Load() {
			return true
		}
		a.leave() // no room after all: undo, and queue
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.queued.Add(1)
	defer a.queued.Add(-1)
	for a.inside.Load() >= a.limit.Load() {
		if stopped() {
			a.cond.Signal() // the wake this user took may have been someone's turn
			return false
		}
		a.cond.Wait()
	}
	a.inside.Add(1)
	return true
}

// leave ends a task that enter admitted.
func (a *admission) leave() {
	a.inside.Add(-1)
	if a.queued.Load() > 0 {
		a.mu.Lock()
		a.cond.Signal()
		a.mu.Unlock()
	}
}

// release wakes every waiting user, so that those stopped return at once.
func (a *admission) release() {
	a.mu.Lock()
	a.cond.Broadcast()
	a.mu.Unlock()
}

// probe measures rounds and adjusts the limit until no user has been inside a task
// for probeIdle.
func (a *admission) probe() {
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	idleSince := time.Now()
	calm := 0
	for range tick.C {
		if a.inside.Load() == 0 && a.queued.Load() == 0 {
			if time.Since(idleSince) < probeIdle {
				continue
			}
			a.probing.Store(false)
			// A user may have entered after the check and before the store, and seen
			// probing still true: keep probing for it.
			if a.inside.Load() == 0 || !a.probing.CompareAndSwap(false, true) {
				return
			}
		}
		idleSince = time.Now()
		start := time.Now()
		runtime.Gosched()
		calm = a.adjust(time.Since(start), calm)
	}
}

// adjust sets the limit after a round of the given length that came after calm short
// rounds in a row (see admission), and returns how many short rounds in a row there
// are now.
func (a *admission) adjust(round time.Duration, calm int) int {
	if round >= roundShort {
		calm = 0
	} else {
		calm++
	}
	l := a.limit.Load()
	switch {
	case round > roundTooLong:
		l = max(minAdmitted, min(l, a.inside.Load())/2)
		a.limit.Store(l)
	case calm >= calmRounds && a.queued.Load() > 0 && l < maxAdmitted:
		calm = 0
		l = min(2*l, maxAdmitted)
		a.limit.Store(l)
		a.mu.Lock()
		for n := min(a.queued.Load(), l-a.inside.Load()); n > 0; n-- {
			a.cond.Signal()
		}
		a.mu.Unlock()
	}
	return calm
}
