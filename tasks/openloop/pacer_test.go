package openloop

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// at sets the clock to d after its start.
func (c *fakeClock) at(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = time.Unix(1_000_000, 0).Add(d)
}

func (c *fakeClock) start() time.Time { return time.Unix(1_000_000, 0) }

// dues takes operations until one falls due at or after until, with the clock far
// past it so that every Next returns at once, and returns their planned starts
// (after the clock's start). The clock is left at far.
func dues(t *testing.T, p *Pacer, c *fakeClock, until time.Duration) []time.Duration {
	t.Helper()
	c.at(until + time.Hour)
	var out []time.Duration
	for {
		at, _, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d := at.Sub(c.start())
		if d >= until {
			return out
		}
		out = append(out, d)
		if len(out) > 1e6 {
			t.Fatal("runaway plan")
		}
	}
}

// count is the number of planned starts in [from, to).
func count(ds []time.Duration, from, to time.Duration) int {
	n := 0
	for _, d := range ds {
		if d >= from && d < to {
			n++
		}
	}
	return n
}

const ms = time.Millisecond

// TestPlanConstantRate: at R/s operation k is due at k/R from the start, the first at once.
func TestPlanConstantRate(t *testing.T) {
	c := newFakeClock()
	p := NewWithClock(500, c.now)
	p.Join()
	ds := dues(t, p, c, time.Second)
	if len(ds) != 500 {
		t.Fatalf("%d operations planned in the first second at 500/s", len(ds))
	}
	for k, d := range ds {
		if want := time.Duration(k) * 2 * ms; d != want {
			t.Fatalf("operation %d due at %v, want %v", k, d, want)
		}
	}
}

// TestPlanSetRate: changing the rate up and down mid-run plans, in every window, the
// integral of the rate over it (within one), with no burst and no gap at a change;
// a rate of 0 plans nothing until a rate resumes the plan where it stopped.
func TestPlanSetRate(t *testing.T) {
	c := newFakeClock()
	p := NewWithClock(100, c.now)
	p.Join()
	// The changes fall between planned starts (not on a millisecond), as a
	// controller's would.
	steps := []struct {
		at   time.Duration
		rate float64
	}{
		{1003700 * time.Microsecond, 1000},
		{2003700 * time.Microsecond, 10},
		{3003700 * time.Microsecond, 0},
		{4003700 * time.Microsecond, 250},
		{5003700 * time.Microsecond, 2500},
	}
	for _, s := range steps {
		c.at(s.at)
		if err := p.SetRate(s.rate); err != nil {
			t.Fatal(err)
		}
	}
	end := 6003700 * time.Microsecond
	ds := dues(t, p, c, end)

	// rate returns the planned rate at d.
	rate := func(d time.Duration) float64 {
		r := 100.0
		for _, s := range steps {
			if d >= s.at {
				r = s.rate
			}
		}
		return r
	}
	// Every window of 100 ms holds the integral of the rate over it, within one.
	for from := time.Duration(0); from+100*ms <= end; from += 50 * ms {
		to := from + 100*ms
		want := 0.0
		for d := from; d < to; d += 100 * time.Microsecond {
			want += rate(d) * 100e-6
		}
		if got := count(ds, from, to); math.Abs(float64(got)-want) > 1.01 {
			t.Errorf("[%v, %v): %d operations planned, want %.1f", from, to, got, want)
		}
	}
	// Each second, by the rate set at its start.
	for i, want := range []int{100, 1000, 10, 0, 250, 2500} {
		from := time.Duration(i)*time.Second + 3700*time.Microsecond
		if got := count(ds, from, from+time.Second); math.Abs(float64(got-want)) > 1 {
			t.Errorf("second %d at %.0f/s: %d operations", i, rate(from), got)
		}
	}
	// No burst, no gap: consecutive starts are as far apart as the rates on either side
	// of them allow (the pause aside).
	for i := 1; i < len(ds); i++ {
		prev, cur := ds[i-1], ds[i]
		lo, hi := 1/rate(cur), 1/rate(prev)
		if lo > hi {
			lo, hi = hi, lo
		}
		gap := (cur - prev).Seconds()
		if prev < steps[2].at && cur > steps[3].at {
			// Across the pause the plan stops: the gap is the pause plus what was left
			// of the interval at 10/s when it began.
			if gap < 1.0 || gap > 1.0+0.1+1e-6 {
				t.Errorf("gap across the pause %v → %v: %.6f s", prev, cur, gap)
			}
			continue
		}
		if gap < lo-1e-6 || gap > hi+1e-6 {
			t.Errorf("gap %v → %v: %.6f s, want %.6f to %.6f s", prev, cur, gap, lo, hi)
		}
	}
	// Nothing planned while paused.
	if n := count(ds, steps[2].at+1, steps[3].at); n != 0 {
		t.Errorf("%d operations planned while paused", n)
	}
}

// TestPlanSetRateKeepsBacklog: operations that fell due before a change, and were not
// taken (every user busy, the server stalled), keep their planned starts: the latency
// of the stall is still measured from them. Only the operations after the change move.
func TestPlanSetRateKeepsBacklog(t *testing.T) {
	c := newFakeClock()
	p := NewWithClock(1000, c.now)
	p.Join()
	c.at(500*ms + 500*time.Microsecond) // nothing taken for half a second
	if got := p.Counts(); got.Planned != 501 || got.Backlog() != 501 {
		t.Errorf("counts after a stall: %+v, backlog %d; want 501 planned and owed", got, got.Backlog())
	}
	if err := p.SetRate(100); err != nil {
		t.Fatal(err)
	}
	ds := dues(t, p, c, 600*ms)
	for k := 0; k <= 500; k++ {
		if want := time.Duration(k) * ms; ds[k] != want {
			t.Fatalf("owed operation %d moved to %v, want %v", k, ds[k], want)
		}
	}
	// The next one falls due when the position, half way to it at the change, gets
	// there at 100/s: 5 ms later.
	if want := 505500 * time.Microsecond; ds[501] != want {
		t.Errorf("first operation after the change due at %v, want %v", ds[501], want)
	}
	if len(ds) != 501+10 {
		t.Errorf("%d operations before 600 ms, want 511", len(ds))
	}
}

// TestCounts: what a controller reads: planned, taken, late, skipped, and the backlog.
func TestCounts(t *testing.T) {
	c := newFakeClock()
	p := NewWithClock(100, c.now)
	if got := p.Counts(); got != (Counts{Rate: 100}) {
		t.Errorf("before any user: %+v", got)
	}
	p.Join()
	p.Join()
	c.at(1005 * ms)
	if got := p.Counts(); got.Planned != 101 || got.Users != 2 {
		t.Errorf("after 1.005 s at 100/s: %+v; want 101 planned, 2 users", got)
	}
	// Taken at 1.005 s: operations 0..49 are all later than LateTolerance, but for none.
	for i := 0; i < 50; i++ {
		_, late, err := p.Next(context.Background())
		if err != nil || late <= LateTolerance {
			t.Fatalf("operation %d: late %v, %v", i, late, err)
		}
	}
	got := p.Counts()
	if got.Taken != 50 || got.Late != 50 || got.Backlog() != 51 {
		t.Errorf("after taking 50: %+v, backlog %d", got, got.Backlog())
	}
	// The last user leaving skips what was owed; the idle time plans nothing.
	p.Leave()
	p.Leave()
	c.at(5 * time.Second)
	got = p.Counts()
	if got.Planned != 101 || got.Skipped != 51 || got.Backlog() != 0 || got.Users != 0 {
		t.Errorf("after the last user left: %+v", got)
	}
	// A new plan starts with its first operation due at once, on time.
	p.Join()
	at, late, err := p.Next(context.Background())
	if err != nil || late != 0 || !at.Equal(c.now()) {
		t.Errorf("restarted plan: first start at %v (now %v), late %v, %v", at, c.now(), late, err)
	}
	if got := p.Counts(); got.Planned != 102 || got.Taken != 51 {
		t.Errorf("after the restart: %+v", got)
	}
	if err := p.SetRate(-1); err == nil {
		t.Error("negative rate accepted")
	}
	if err := p.SetRate(math.NaN()); err == nil {
		t.Error("NaN rate accepted")
	}
	if err := p.SetRate(0); err != nil || p.Rate() != 0 || p.Counts().Rate != 0 {
		t.Errorf("SetRate(0): %v, rate %v", err, p.Rate())
	}
}

// TestPausedStart: a plan that starts paused plans nothing; a rate resumes it one
// interval later.
func TestPausedStart(t *testing.T) {
	c := newFakeClock()
	p := NewWithClock(0, c.now)
	p.Join()
	c.at(time.Second)
	if got := p.Counts().Planned; got != 0 {
		t.Errorf("paused from the start: %d planned", got)
	}
	if err := p.SetRate(10); err != nil {
		t.Fatal(err)
	}
	ds := dues(t, p, c, 2050*ms)
	if len(ds) != 10 || ds[0] != 1100*ms || ds[9] != 2*time.Second {
		t.Errorf("resumed at 1 s at 10/s: %v", ds)
	}
}

// TestSetRateWakesWaiters: a user waiting for an operation that a new rate moves
// earlier starts it at its new time; one waiting on a paused plan waits until its
// context ends, and the operation is skipped. (System clock, generous bounds.)
func TestSetRateWakesWaiters(t *testing.T) {
	p := New(0.5) // one every 2 s
	p.Join()
	ctx := context.Background()
	if _, late, err := p.Next(ctx); err != nil || late != 0 {
		t.Fatalf("first start: late %v, %v", late, err)
	}
	done := make(chan time.Time, 1)
	go func() {
		at, _, _ := p.Next(ctx)
		done <- at
	}()
	time.Sleep(50 * ms)
	changed := time.Now()
	if err := p.SetRate(1000); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-done:
		if d := at.Sub(changed); d < 0 || d > 5*ms {
			t.Errorf("waiting start planned %v after the change to 1000/s", d)
		}
	case <-time.After(1500 * ms):
		t.Fatal("a waiting user kept the old plan's start (2 s)")
	}

	p = New(0)
	p.Join()
	cctx, cancel := context.WithTimeout(ctx, 300*ms)
	defer cancel()
	before := p.Counts()
	_, _, err := p.Next(cctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Next on a paused plan: %v, want the context's deadline", err)
	}
	if after := p.Counts(); after.Skipped != before.Skipped+1 || after.Taken != before.Taken {
		t.Errorf("an abandoned wait: %+v, before %+v", after, before)
	}
}

// TestSharedPlan: users sharing a Pacer take every planned start once, evenly spaced,
// on time when they are idle, while the rate changes under them. (System clock.)
func TestSharedPlan(t *testing.T) {
	p := New(500)
	p.Join()
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []time.Time
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 63; i++ {
				at, _, err := p.Next(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got = append(got, at)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	// 504 starts at 500/s take 1006 ms of plan.
	if el < 1000*ms || el > 1300*ms {
		t.Errorf("504 starts at 500/s took %v", el)
	}
	if n := p.Late(); n > 10 {
		t.Errorf("%d late starts of 504 with idle users", n)
	}
	first := got[0]
	for _, at := range got {
		if at.Before(first) {
			first = at
		}
	}
	seen := map[int64]bool{}
	for _, at := range got {
		seen[int64(math.Round(float64(at.Sub(first))/2e6))] = true
	}
	if len(seen) != 504 || p.Taken() != 504 {
		t.Errorf("%d distinct planned starts of 504 (%d taken)", len(seen), p.Taken())
	}

	// Rates changing under busy users: every start is handed out once.
	var n sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		n.Add(1)
		go func() {
			defer n.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 20*ms)
				p.Next(cctx)
				cancel()
			}
		}()
	}
	for _, r := range []float64{5000, 0, 20000, 100, 3000} {
		if err := p.SetRate(r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * ms)
	}
	close(stop)
	n.Wait()
	p.Leave()
	cs := p.Counts()
	if cs.Taken+cs.Skipped != cs.Planned || cs.Backlog() != 0 {
		t.Errorf("counts after rate changes: %+v", cs)
	}
}

// TestSetRateDelaysWaiters: a user waiting for an operation that a lower rate moves
// later waits for its new time. (System clock, generous bounds.)
func TestSetRateDelaysWaiters(t *testing.T) {
	p := New(10) // one every 100 ms
	p.Join()
	ctx := context.Background()
	first, _, err := p.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Time, 1)
	go func() {
		at, _, _ := p.Next(ctx)
		done <- at
	}()
	time.Sleep(20 * ms)
	if err := p.SetRate(1); err != nil {
		t.Fatal(err)
	}
	// At the change the position was about 0.2 of the way to the next start; the
	// remaining 0.8 at 1/s takes 800 ms.
	select {
	case at := <-done:
		if d := at.Sub(first); d < 700*ms || d > 900*ms {
			t.Errorf("waiting start planned %v after the first, want about 820 ms", d)
		}
		if time.Since(first) < 700*ms {
			t.Errorf("waiting start taken %v after the first: before its new time", time.Since(first))
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a waiting user never started")
	}
}

// TestShared: a worker's users share one Pacer; a controller's rate stays until the
// settings ask for another one (a new test's).
func TestShared(t *testing.T) {
	var s Shared
	if s.Pacer() != nil {
		t.Fatal("a Pacer before any user asked")
	}
	p := s.For(100)
	if s.For(100) != p || s.Pacer() != p || p.Rate() != 100 {
		t.Fatalf("second user got another Pacer, or the rate %v", p.Rate())
	}
	if err := p.SetRate(40); err != nil { // a controller
		t.Fatal(err)
	}
	if s.For(100); p.Rate() != 40 {
		t.Errorf("a user of the same test reset the controller's rate to %v", p.Rate())
	}
	if s.For(250) != p || p.Rate() != 250 {
		t.Errorf("a new test's rate: %v", p.Rate())
	}
}
