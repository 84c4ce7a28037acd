package boomer

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// maxYielding is how many users that never wait may sit in Go's run queues at once,
// between two of their tasks; more wait their turn in a turns queue instead.
const maxYielding = 256

// turns is how users that never wait give way between tasks. runtime.Gosched puts a
// goroutine at the back of Go's global run queue, which every goroutine woken from a
// system call also joins: with 100,000 users that fail at once and never wait, all of
// them sit there, and the goroutine that receives a signal (or writes a log line)
// waits behind all of them, a round of turns that takes seconds. So while fewer than
// maxYielding users are in Gosched a user simply yields; beyond that it parks in a
// FIFO queue (a sync.Cond, whose waiters wake in order), at most maxYielding of which
// are woken and not yet running: the run queues stay short, each user still gets its
// turn in order, and the worker's own goroutines get theirs within a short round.
//
// Liveness: a user parks only when maxYielding users are in Gosched or others are
// parked; every user back from Gosched, and every parked user that resumes, wakes the
// longest-parked one while fewer than maxYielding are woken. So once a user parks,
// someone always comes back to wake the next, until the queue is empty.
type turns struct {
	inSched atomic.Int64 // users in runtime.Gosched
	queued  atomic.Int64 // users parked (or woken, not yet resumed)

	mu    sync.Mutex
	cond  sync.Cond
	awake int64 // woken, not yet resumed; under mu
}

func newTurns() *turns {
	t := &turns{}
	t.cond.L = &t.mu
	return t
}

// yield gives way to the other runnable goroutines, as said above.
func (t *turns) yield() {
	if t.queued.Load() == 0 && t.inSched.Load() < maxYielding {
		t.inSched.Add(1)
		runtime.Gosched()
		t.inSched.Add(-1)
		if t.queued.Load() > 0 {
			t.mu.Lock()
			t.wakeLocked()
			t.mu.Unlock()
		}
		return
	}
	t.mu.Lock()
	t.wakeLocked() // the longest-parked first
	t.queued.Add(1)
	t.cond.Wait() // joins the queue before mu is released: a wake cannot miss it
	t.awake--
	t.queued.Add(-1)
	t.wakeLocked()
	t.mu.Unlock()
}

// wakeLocked wakes the longest-parked user that was not woken yet, unless
// maxYielding are woken already. t.mu must be held. Every user counted in queued
// and not in awake is in the Cond's queue, so the Signal reaches one.
func (t *turns) wakeLocked() {
	if t.awake < maxYielding && t.awake < t.queued.Load() {
		t.awake++
		t.cond.Signal()
	}
}
