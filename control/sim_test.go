package control_test

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"

	"github.com/zkload/zkload/control"
	"github.com/zkload/zkload/stats"
)

// target is a simulated server whose capacity is known by construction, as `zkload
// serve --capacity N`: it admits requests at most every 1/Capacity seconds (a token
// bucket without burst, evenly spaced), first come first served, and the rest wait
// their turn in a queue; a request's latency is its wait plus its own service time
// (a lognormal time, median Service). A request arriving to a full queue (QueueLimit
// waiting) fails at once. In a closed loop, a request that took longer than
// SessionTimeout fails as an expired session.
//
// Time is virtual: seconds (float64) since the run began; nothing sleeps.
type target struct {
	Capacity       float64
	Service        time.Duration
	Sigma          float64 // of the service time's logarithm; default 0.5
	QueueLimit     int
	SessionTimeout time.Duration
	Poisson        bool // open-loop arrivals: a Poisson process instead of the pacer's even spacing
	Seed           uint64
	// Stalls are spans of virtual time [from, to) in which the target starts nothing
	// (a long GC pause, a frozen process): what it admits waits for their end.
	Stalls [][2]float64

	rng      *rand.Rand
	nextFree float64   // when the next request may start
	starts   []float64 // start times of admitted requests, ascending (the queue, lazily trimmed)
	inFlight floatHeap // completion times of requests not done yet
	windows  map[int]*stats.Summary
	width    float64
}

func (t *target) init(width time.Duration) {
	if t.Sigma == 0 {
		t.Sigma = 0.5
	}
	t.rng = rand.New(rand.NewPCG(t.Seed, 15))
	t.windows = map[int]*stats.Summary{}
	t.width = width.Seconds()
}

// serve takes a request arriving at a and returns when it completes and whether it
// failed (with its error text).
func (t *target) serve(a float64) (done float64, errText string) {
	for len(t.starts) > 0 && t.starts[0] <= a {
		t.starts = t.starts[1:]
	}
	if t.QueueLimit > 0 && len(t.starts) >= t.QueueLimit {
		done = a + 50e-6
		t.record(a, done, "queue full")
		return done, "queue full"
	}
	start := math.Max(a, t.nextFree)
	for _, st := range t.Stalls {
		if start >= st[0] && start < st[1] {
			start = st[1]
		}
	}
	t.nextFree = start + 1/t.Capacity
	t.starts = append(t.starts, start)
	done = start + t.Service.Seconds()*math.Exp(t.Sigma*t.rng.NormFloat64())
	heap.Push(&t.inFlight, done)
	if t.SessionTimeout > 0 && done-a > t.SessionTimeout.Seconds() {
		errText = "zk: session has been expired by the server"
	}
	t.record(a, done, errText)
	return done, errText
}

// record adds a request to the window it completes in.
func (t *target) record(a, done float64, errText string) {
	k := int(done / t.width)
	s := t.windows[k]
	if s == nil {
		s = stats.NewSummary()
		t.windows[k] = s
	}
	ns := int64((done - a) * 1e9)
	if s.Requests == 0 || ns < s.MinNanos {
		s.MinNanos = ns
	}
	s.MaxNanos = max(s.MaxNanos, ns)
	s.Requests++
	s.SumNanos += ns
	_ = s.Hist.RecordValue((ns + 500) / 1000)
	if errText != "" {
		s.Failures++
		if s.Errors == nil {
			s.Errors = map[string]int64{}
		}
		s.Errors[errText]++
	}
}

// outstanding is the number of requests in the server (waiting or served) at time now.
func (t *target) outstanding(now float64) int {
	for t.inFlight.Len() > 0 && t.inFlight[0] <= now {
		heap.Pop(&t.inFlight)
	}
	return t.inFlight.Len()
}

// window returns the k-th window (ending at (k+1)*width) and forgets it.
func (t *target) window(k int, t0 time.Time, offered float64, users int) control.Window {
	end := float64(k+1) * t.width
	w := control.Window{End: at(t0, end), Width: time.Duration(t.width * 1e9), Offered: offered, Users: users,
		Summary: t.windows[k], Signals: map[string]float64{"outstanding": float64(t.outstanding(end))}}
	delete(t.windows, k)
	return w
}

func at(t0 time.Time, s float64) time.Time { return t0.Add(time.Duration(s * 1e9)) }

// run is a simulated test: the windows the controller saw and what it decided.
type run struct {
	Windows   []control.Window
	Decisions []control.Decision
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// runOpen drives the target in an open loop: the controller's rate, requests evenly
// spaced as the pacer plans them (or a Poisson process), for at most maxWindows
// windows or until a decision is Done. Decisions may change the rate between windows
// (at their Wake).
func runOpen(c control.Controller, tg *target, width time.Duration, maxWindows int) run {
	tg.init(width)
	var r run
	d := c.Start(t0)
	r.Decisions = append(r.Decisions, d)
	rate := d.Rate
	wake := math.Inf(1)
	if !d.Wake.IsZero() {
		wake = d.Wake.Sub(t0).Seconds()
	}
	next := math.Inf(1) // next arrival
	last := 0.0         // last arrival
	schedule := func(now float64) {
		switch {
		case rate <= 0:
			next = math.Inf(1)
		case tg.Poisson:
			next = now + tg.rng.ExpFloat64()/rate
		default:
			next = math.Max(now, last+1/rate)
		}
	}
	schedule(0)
	for k := 0; k < maxWindows && !d.Done; k++ {
		end := float64(k+1) * tg.width
		from, offered := float64(k)*tg.width, 0.0
		for {
			stop := math.Min(end, wake)
			for next < stop {
				tg.serve(next)
				last = next
				schedule(next)
			}
			if wake > end {
				break
			}
			offered += rate * (wake - from)
			from = wake
			d = c.Tick(at(t0, wake))
			r.Decisions = append(r.Decisions, d)
			rate, wake = d.Rate, math.Inf(1)
			if !d.Wake.IsZero() {
				wake = d.Wake.Sub(t0).Seconds()
			}
			schedule(from)
			if d.Done {
				break
			}
		}
		offered += rate * (end - from)
		w := tg.window(k, t0, offered/tg.width, 0)
		r.Windows = append(r.Windows, w)
		if d.Done {
			break
		}
		d = c.Observe(w)
		r.Decisions = append(r.Decisions, d)
		if d.Rate != rate {
			rate = d.Rate
			schedule(end)
		}
		if !d.Wake.IsZero() {
			wake = d.Wake.Sub(t0).Seconds()
		}
	}
	return r
}

// runClosed drives the target in a closed loop: the controller's number of users,
// each sending its next request when the last one completes (no think time), users
// started at the decision's spawn rate (at once when 0) and stopped as they finish a
// request.
func runClosed(c control.Controller, tg *target, width time.Duration, maxWindows int) run {
	tg.init(width)
	var r run
	var ev eventHeap       // users' next sends
	var spawning []float64 // when the users not started yet start, ascending
	live, want, nextID := 0, 0, 0
	apply := func(d control.Decision, now float64) {
		want = d.Users
		for i := 0; live < want; i++ {
			t := now
			if d.SpawnRate > 0 {
				t += float64(i) / d.SpawnRate
			}
			heap.Push(&ev, event{at: t, user: nextID})
			spawning = append(spawning, t)
			nextID++
			live++
		}
	}
	d := c.Start(t0)
	r.Decisions = append(r.Decisions, d)
	apply(d, 0)
	for k := 0; k < maxWindows && !d.Done; k++ {
		end := float64(k+1) * tg.width
		for {
			stop := end
			if !d.Wake.IsZero() {
				stop = math.Min(end, d.Wake.Sub(t0).Seconds())
			}
			for ev.Len() > 0 && ev[0].at < stop {
				e := heap.Pop(&ev).(event)
				if live > want {
					live--
					continue
				}
				done, _ := tg.serve(e.at)
				heap.Push(&ev, event{at: done, user: e.user})
			}
			if stop == end && (d.Wake.IsZero() || d.Wake.Sub(t0).Seconds() > end) {
				break
			}
			d = c.Tick(d.Wake)
			r.Decisions = append(r.Decisions, d)
			apply(d, stop)
			if d.Done {
				break
			}
		}
		for len(spawning) > 0 && spawning[0] < end {
			spawning = spawning[1:]
		}
		w := tg.window(k, t0, 0, live-len(spawning))
		r.Windows = append(r.Windows, w)
		d = c.Observe(w)
		r.Decisions = append(r.Decisions, d)
		apply(d, end)
	}
	return r
}

type event struct {
	at   float64
	user int
}

type eventHeap []event

func (h eventHeap) Len() int           { return len(h) }
func (h eventHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h eventHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)        { *h = append(*h, x.(event)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type floatHeap []float64

func (h floatHeap) Len() int           { return len(h) }
func (h floatHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h floatHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *floatHeap) Push(x any)        { *h = append(*h, x.(float64)) }
func (h *floatHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
