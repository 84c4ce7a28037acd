package boomer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAdmissionAlwaysComesRound: many more goroutines than the limit enter and leave
// over and over; every one finishes, no more than the limit are ever inside at once,
// nobody is left waiting, and the counters return to zero.
func TestAdmissionAlwaysComesRound(t *testing.T) {
	a := newAdmission()
	const limit = 16
	a.limit.Store(limit)
	a.probing.Store(true) // no probe: the limit stays where the test put it
	const goroutines, tasks = 64 * limit, 100
	var wg sync.WaitGroup
	var most atomic.Int64
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range tasks {
				if !a.enter(func() bool { return false }) {
					t.Error("enter refused a user that was not stopped")
					return
				}
				if n := a.inside.Load(); n > most.Load() {
					most.Store(n)
				}
				a.leave()
			}
		}()
	}
	wg.Wait()
	if q, in := a.queued.Load(), a.inside.Load(); q != 0 || in != 0 {
		t.Errorf("after every goroutine finished: queued %d, inside %d; want 0", q, in)
	}
	// The fast path may overshoot by the goroutines racing it, never by many.
	if m := most.Load(); m > limit+int64(goroutines)/8 {
		t.Errorf("inside at most %d with a limit of %d", m, limit)
	}
}

// TestAdmissionReleasesStoppedUsers: users waiting to enter return false once stopped
// and released, while the users inside stay inside.
func TestAdmissionReleasesStoppedUsers(t *testing.T) {
	a := newAdmission()
	a.limit.Store(minAdmitted)
	a.probing.Store(true)
	for range minAdmitted {
		if !a.enter(func() bool { return false }) {
			t.Fatal("enter refused a user below the limit")
		}
	}
	var stop atomic.Bool
	const waiting = 100
	results := make(chan bool, waiting)
	for range waiting {
		go func() { results <- a.enter(stop.Load) }()
	}
	for a.queued.Load() < waiting {
		time.Sleep(time.Millisecond) // no signal for "parked in a sync.Cond"
	}
	stop.Store(true)
	a.release()
	for range waiting {
		if <-results {
			t.Fatal("a stopped user entered a full admission")
		}
	}
	if in := a.inside.Load(); in != minAdmitted {
		t.Errorf("inside %d after the waiting users gave up; want %d", in, minAdmitted)
	}
}

// TestAdmissionAdjust: a long round halves the limit down to half the users inside;
// calmRounds short rounds in a row double it, only while users wait, and let them in.
func TestAdmissionAdjust(t *testing.T) {
	a := newAdmission()
	a.probing.Store(true)
	a.inside.Store(600)
	if calm := a.adjust(roundTooLong+time.Millisecond, 5); calm != 0 {
		t.Errorf("short rounds in a row after a long round: %d, want 0", calm)
	}
	if l := a.limit.Load(); l != 300 {
		t.Errorf("limit after a long round with 600 inside: %d, want 300", l)
	}
	a.inside.Store(4)
	a.adjust(time.Second, 0)
	if l := a.limit.Load(); l != minAdmitted {
		t.Errorf("limit after a long round with 4 inside: %d, want %d", l, minAdmitted)
	}
	calm := 0
	for range 2 * calmRounds {
		calm = a.adjust(time.Millisecond, calm)
	}
	if l := a.limit.Load(); l != minAdmitted {
		t.Errorf("limit after short rounds with nobody waiting: %d, want %d", l, minAdmitted)
	}

	a.inside.Store(minAdmitted)
	entered := make(chan bool)
	go func() { entered <- a.enter(func() bool { return false }) }()
	for a.queued.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	calm = 0
	for range calmRounds - 1 {
		calm = a.adjust(time.Millisecond, calm)
	}
	if l := a.limit.Load(); l != minAdmitted {
		t.Errorf("limit after %d short rounds: %d, want %d (not yet calm)", calmRounds-1, l, minAdmitted)
	}
	if calm = a.adjust(time.Millisecond, calm); calm != 0 {
		t.Errorf("short rounds in a row after growing: %d, want 0", calm)
	}
	if l := a.limit.Load(); l != 2*minAdmitted {
		t.Errorf("limit after %d short rounds with a user waiting: %d, want %d", calmRounds, l, 2*minAdmitted)
	}
	if !<-entered {
		t.Error("the waiting user was not let in when the limit grew")
	}
}
