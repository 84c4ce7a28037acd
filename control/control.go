// Package control steers a load test while it runs (issue #15): it reads one
// fleet-wide observation per statistics window and decides the offered rate (open loop)
// or the number of users (closed loop) for what follows.
//
// The modes share that shape:
//
//   - Seek finds the highest sustained rate (or user count) at which every constraint
//     ("p99<10ms", "errors<1%", "outstanding<100") holds: it grows the load step by step,
//     holds each step until it is steady, brackets the knee and narrows the bracket.
//   - Hold keeps a signal (a latency percentile or an ensemble signal) at a setpoint by
//     steering the rate with a PID controller.
//   - Shape runs a program: zk-locust's LOCUST_EXTRA_CONTROL_PROGRAM for users, the same
//     language for rates, or a k6-like list of stages.
//   - Watchdog stops the test with a verdict and ExitWatchdog when a condition holds for
//     a given time (errors, a percentile, the ensemble's quorum); Guard puts one in
//     front of any controller.
//
// Every controller is a Controller: Start gives the first decision, Observe takes each
// window as it ends and Tick lets time-driven controllers (Shape) change the load
// between windows. The package keeps no clock of its own: time is the windows' and the
// caller's, so the same code runs in a simulation in virtual time (the tests), in a
// standalone run and behind a Locust master. Controllers are not safe for concurrent
// use; one goroutine drives each. doc/load-control.md describes the algorithms.
package control

import (
	"time"

	"github.com/zkload/zkload/stats"
)

// Unit is what a controller steers: the offered rate (open loop) or the number of
// users (closed loop).
type Unit int

// The units.
const (
	Rate  Unit = iota // operations per second offered, fleet-wide (open loop)
	Users             // users running, fleet-wide (closed loop)
)

// String names the unit as help and errors show it.
func (u Unit) String() string {
	if u == Users {
		return "users"
	}
	return "rate"
}

// Window is one fleet-wide observation: what every worker measured over the same
// statistics window, merged.
type Window struct {
	// End is when the window ended; Width how long it lasted.
	End   time.Time
	Width time.Duration
	// Offered is the rate the open loop planned over the window (operations/s), 0 in a
	// closed loop.
	Offered float64
	// Users is the number of users running at the end of the window.
	Users int
	// Summary holds every operation that completed in the window, all names merged:
	// requests, failures and the microsecond latency histogram (measured from the
	// planned start in the open loop, so corrected for coordinated omission). nil
	// when nothing completed.
	Summary *stats.Summary
	// Lag is how far behind its plan the open loop started operations (0 if unknown):
	// a fleet that cannot keep its own schedule measures itself, not the target.
	Lag time.Duration
	// Signals are the ensemble's signals by name ("outstanding", "quorum", a member's
	// latency), as the metrics poller last read them; nil or missing when unknown.
	Signals map[string]float64
}

// Start is when the window began.
func (w Window) Start() time.Time { return w.End.Add(-w.Width) }

// Requests is the number of operations that completed in the window.
func (w Window) Requests() int64 {
	if w.Summary == nil {
		return 0
	}
	return w.Summary.Requests
}

// Achieved is the rate of completed operations over the window (operations/s).
func (w Window) Achieved() float64 {
	if w.Width <= 0 {
		return 0
	}
	return float64(w.Requests()) / w.Width.Seconds()
}

// ErrorRate is the fraction of the window's operations that failed, and false when
// none completed.
func (w Window) ErrorRate() (float64, bool) {
	n := w.Requests()
	if n == 0 {
		return 0, false
	}
	return float64(w.Summary.Failures) / float64(n), true
}

// Percentile is the response time at percentile p (0-100) over the window, and false
// when nothing completed.
func (w Window) Percentile(p float64) (time.Duration, bool) {
	if w.Requests() == 0 {
		return 0, false
	}
	return time.Duration(w.Summary.Percentile(p)) * time.Microsecond, true
}

// merge returns the windows as one: their operations merged (a copy), spanning from
// the first one's start to the last one's end, the offered rate weighted by width, the
// fewest users, the longest lag and each signal's mean over the windows that have it.
func merge(ws []Window) Window {
	if len(ws) == 0 {
		return Window{}
	}
	if len(ws) == 1 {
		return ws[0]
	}
	m := Window{End: ws[len(ws)-1].End, Users: ws[0].Users}
	var offered float64
	sums := map[string]float64{}
	counts := map[string]int{}
	for _, w := range ws {
		m.Width += w.Width
		offered += w.Offered * w.Width.Seconds()
		m.Users = min(m.Users, w.Users)
		m.Lag = max(m.Lag, w.Lag)
		if w.Summary != nil && w.Summary.Requests > 0 {
			if m.Summary == nil {
				m.Summary = stats.NewSummary()
			}
			m.Summary.Add(w.Summary)
		}
		for k, v := range w.Signals {
			sums[k] += v
			counts[k]++
		}
	}
	if m.Width > 0 {
		m.Offered = offered / m.Width.Seconds()
	}
	if len(sums) > 0 {
		m.Signals = make(map[string]float64, len(sums))
		for k, s := range sums {
			m.Signals[k] = s / float64(counts[k])
		}
	}
	return m
}

// Decision is what a controller wants from now on.
type Decision struct {
	// At is when the decision was taken (a window's end, or the time given to Start
	// or Tick).
	At time.Time
	// Unit says which of Rate and Users applies.
	Unit Unit
	// Rate is the fleet-wide rate to offer (operations/s) when Unit is Rate.
	Rate float64
	// Users is the fleet-wide number of users when Unit is Users, and SpawnRate how
	// fast to start or stop them (users/s; 0: all at once, or the runner's default).
	Users     int
	SpawnRate float64
	// Wake, when set, is the next time the controller wants Tick called even if no
	// window ends before (a program's sleep ending, the next point of a ramp).
	Wake time.Time
	// Reason says why, in words and numbers, for the log and the report.
	Reason string
	// Done ends the test: the search is over, the program ended, or Verdict says why
	// the test was stopped.
	Done bool
	// Verdict is set when the watchdog stopped the test.
	Verdict *Verdict
}

// Controller decides the load of a test from what the test measures.
type Controller interface {
	// Start gives the first decision, before the first window.
	Start(now time.Time) Decision
	// Observe takes a window as it ends and decides what follows it.
	Observe(w Window) Decision
	// Tick gives the decision at time now between windows (at a Decision's Wake);
	// controllers driven only by windows return their last decision.
	Tick(now time.Time) Decision
}

// Verdict is why the watchdog stopped a test before its end.
type Verdict struct {
	At time.Time
	// Rule is the rule that fired, as written ("errors>5% for 30s").
	Rule string
	// Text says what happened, with the numbers: "stopped: errors 12.5% > 5% for 30s
	// (since 12:00:03)".
	Text string
	// ExitCode is the process's exit code for it (ExitWatchdog).
	ExitCode int
}
