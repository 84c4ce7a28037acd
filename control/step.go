package control

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Steadiness says when a step of a search has been held long enough to be judged.
//
// After a change of load the first Discard windows are not judged: they straddle the
// change, and a queue takes time to build or drain. Then the step is steady when its
// last Windows windows agree:
//
//   - their achieved rates are within Tolerance of their mean, plus the counting noise
//     of a window (3 standard deviations of a Poisson count: 3·sqrt(rate/width)), so
//     that a low rate is not held forever for noise it cannot avoid;
//   - each latency (p99 always, and every latency or ensemble signal of the
//     constraints) is within SignalTolerance of the windows' median, plus LatencyFloor
//     for latencies (timer and scheduling noise under a millisecond);
//   - no latency rose window after window by more than SignalTolerance (plus
//     LatencyFloor) from the first to the last: a queue that grows a little every
//     window is within any tolerance for a while, and is not sustained.
//
// A steady step is judged on its last Windows windows merged (their histograms add
// exactly). A step whose last Windows windows all fail is judged at once: it fails,
// steady or not, so that an overload is not held for MaxHold. A step still unsteady
// after MaxHold is judged all the same, and fails if a latency rose window after
// window across the last ones by more than SignalTolerance: the queue is still
// growing, the rate is not sustained.
type Steadiness struct {
	Windows         int           // default 3
	Discard         int           // default 1
	Tolerance       float64       // achieved rates; default 0.05
	SignalTolerance float64       // latencies and ensemble signals; default 0.25
	LatencyFloor    time.Duration // default 500µs
	MaxHold         time.Duration // default 60s
}

func (s *Steadiness) defaults() {
	if s.Windows <= 0 {
		s.Windows = 3
	}
	if s.Discard < 0 {
		s.Discard = 0
	} else if s.Discard == 0 {
		s.Discard = 1
	}
	if s.Tolerance <= 0 {
		s.Tolerance = 0.05
	}
	if s.SignalTolerance <= 0 {
		s.SignalTolerance = 0.25
	}
	if s.LatencyFloor <= 0 {
		s.LatencyFloor = 500 * time.Microsecond
	}
	if s.MaxHold <= 0 {
		s.MaxHold = time.Minute
	}
}

// Step is one level a search held, and what it measured: a point of the curve of
// offered load against achieved rate.
type Step struct {
	// Level is the rate (operations/s) or the number of users held.
	Level float64
	// Start and End bound the step; Windows is how many windows it was held.
	Start, End time.Time
	Windows    int
	// Offered, Achieved, the latencies and ErrorRate are over the judged windows
	// merged (the last Steadiness.Windows ones).
	Offered        float64
	Users          int
	Achieved       float64
	P50, P99, P999 time.Duration
	ErrorRate      float64
	Pass, Steady   bool
	Reason         string // why it passed or failed, with the numbers
	// How says how the level was chosen: "start", "growth", "hint" (the capacity an
	// overloaded step achieved), "confirm" (just above a passing hint) or "bisect".
	How     string
	Signals map[string]float64
}

// stepOutcome is where a step stands after a window.
type stepOutcome int

const (
	pending stepOutcome = iota
	passed
	failed
)

// judge holds a step and judges it: the part of a search that does not depend on how
// the next level is chosen.
type judge struct {
	unit        Unit
	constraints []Constraint
	steady      Steadiness
	throughput  float64 // open loop: achieved >= (1-throughput)*offered
	allowExpiry bool    // closed loop: session expiry does not fail a step

	level   float64
	start   time.Time
	seen    int     // windows since the step began
	backlog float64 // operations offered and not served since the step began (open loop)
	recent  []Window
	latency []Signal // the latencies and signals whose steadiness is checked
}

// begin starts holding a new level.
func (j *judge) begin(level float64, at time.Time) {
	j.level, j.start, j.seen, j.backlog, j.recent = level, at, 0, 0, j.recent[:0]
	if j.latency == nil {
		p99, _ := ParseSignal("p99")
		j.latency = []Signal{p99}
		for _, c := range j.constraints {
			if (c.Signal.Latency() || c.Signal.Ensemble()) && !slices.ContainsFunc(j.latency, func(s Signal) bool { return s.Name == c.Signal.Name }) {
				j.latency = append(j.latency, c.Signal)
			}
		}
	}
}

// observe takes a window of the step and says whether the step is judged, and how.
func (j *judge) observe(w Window) (stepOutcome, Step) {
	j.seen++
	if w.Offered > 0 {
		j.backlog = math.Max(0, j.backlog+(w.Offered-w.Achieved())*w.Width.Seconds())
	}
	if j.seen <= j.steady.Discard {
		return pending, Step{}
	}
	if a := w.Achieved(); j.unit == Rate && a < w.Offered/2 {
		// Gross overload: every window held longer only adds to the backlog the next
		// step must wait for.
		st := j.step(w, []Window{w}, false)
		st.Pass, st.Reason = false, fmt.Sprintf("achieved %s/s, less than half the %s/s offered: the target cannot keep up", num(a), num(w.Offered))
		return failed, st
	}
	held := w.End.Sub(j.start)
	if j.unit == Users && w.Users < int(j.level) {
		// Still spawning, or users died (zk-locust's "dead clients"): not judged until
		// MaxHold says they will not come.
		if held >= j.steady.MaxHold {
			st := j.step(w, []Window{w}, false)
			st.Pass, st.Reason = false, fmt.Sprintf("only %d of %d users running after %s", w.Users, int(j.level), held.Round(time.Second))
			return failed, st
		}
		return pending, Step{}
	}
	j.recent = append(j.recent, w)
	if len(j.recent) > j.steady.Windows {
		j.recent = j.recent[1:]
	}
	if len(j.recent) < j.steady.Windows {
		return pending, Step{}
	}
	allFail := true
	for _, r := range j.recent {
		if ok, why := j.passes(r); ok || why == "" {
			allFail = false
			break
		}
	}
	steady := j.isSteady()
	slope, growing := j.growing()
	switch {
	case growing:
		st := j.step(w, j.recent, false)
		st.Pass, st.Reason = false, fmt.Sprintf("p50 rises %s a second over the last %d windows: the queue grows, the target serves less than offered", formatSeconds(slope), len(j.recent))
		return failed, st
	case allFail:
		st := j.step(w, j.recent, steady)
		_, why := j.passes(w)
		st.Pass, st.Reason = false, why+fmt.Sprintf(" (in each of the last %d windows)", len(j.recent))
		return failed, st
	case steady:
		st := j.step(w, j.recent, true)
		ok, why := j.passes(merge(j.recent))
		if ok {
			return passed, j.verdict(st, true, why)
		}
		if why == "" {
			// An ensemble signal the windows do not carry: wait for it until MaxHold.
			if held < j.steady.MaxHold {
				return pending, Step{}
			}
			why = "a constraint's signal was never observed"
		}
		return failed, j.verdict(st, false, why)
	case held >= j.steady.MaxHold:
		st := j.step(w, j.recent, false)
		if sig, ok := j.rising(); ok {
			return failed, j.verdict(st, false, fmt.Sprintf("not steady after %s: %s still rising window after window (the queue grows)", held.Round(time.Second), sig))
		}
		ok, why := j.passes(merge(j.recent))
		if why == "" {
			why = "a constraint's signal was never observed"
		}
		return map[bool]stepOutcome{true: passed, false: failed}[ok], j.verdict(st, ok, why+fmt.Sprintf(" (judged unsteady after %s)", held.Round(time.Second)))
	}
	return pending, Step{}
}

func (j *judge) verdict(st Step, ok bool, why string) Step {
	st.Pass, st.Reason = ok, why
	return st
}

// passes checks a window (or windows merged) against the constraints, the throughput
// and session expiry. It says why it fails, or what held when it passes; "" when a
// constraint cannot be judged yet (an ensemble signal missing).
func (j *judge) passes(w Window) (bool, string) {
	var held []string
	if w.Requests() == 0 && (j.unit == Users || w.Offered > 0) {
		return false, "no operation completed"
	}
	for _, c := range j.constraints {
		ok, known, v := c.Check(w)
		if !known {
			return false, ""
		}
		if !ok {
			return false, c.Explain(v)
		}
		held = append(held, c.Explain(v))
	}
	if j.unit == Rate && w.Offered > 0 {
		a := w.Achieved()
		floor := (1-j.throughput)*w.Offered - 3*math.Sqrt(w.Offered/w.Width.Seconds())
		if a < floor {
			return false, fmt.Sprintf("achieved %s/s < %s/s offered: the target cannot keep up", num(a), num(w.Offered))
		}
		held = append(held, fmt.Sprintf("achieved %s/s of %s/s", num(a), num(w.Offered)))
	}
	if j.unit == Users && !j.allowExpiry {
		if n := expired(w); n > 0 {
			return false, fmt.Sprintf("%d sessions expired", n)
		}
	}
	if len(held) == 0 {
		return true, "no constraint"
	}
	return true, strings.Join(held, ", ")
}

// expired counts the failures that say a session expired (zk-locust's seeker grows
// its users while there are none).
func expired(w Window) int64 {
	if w.Summary == nil {
		return 0
	}
	var n int64
	for text, c := range w.Summary.Errors {
		if strings.Contains(strings.ToLower(text), "expired") {
			n += c
		}
	}
	return n
}

// growing reports, in the open loop, whether the median latency rose in every recent
// window at more than the throughput tolerance in seconds a second, and how fast. An
// open loop that offers (1+x) times what the target serves grows its queue, and so
// every latency, by x seconds a second: this sees an overload of a few percent that
// the achieved rate, within its counting noise, and relative latency tolerances, once
// the queue is long, do not.
func (j *judge) growing() (float64, bool) {
	if j.unit != Rate || len(j.recent) < 2 {
		return 0, false
	}
	prev := -1.0
	var first, last float64
	for i, r := range j.recent {
		d, ok := r.Percentile(50)
		v := d.Seconds()
		if !ok || v <= prev {
			return 0, false
		}
		if i == 0 {
			first = v
		}
		prev, last = v, v
	}
	span := j.recent[len(j.recent)-1].End.Sub(j.recent[0].End).Seconds()
	if span <= 0 {
		return 0, false
	}
	slope := (last - first) / span
	return slope, slope > j.throughput
}

// isSteady applies Steadiness to the recent windows.
func (j *judge) isSteady() bool {
	if _, up := j.rising(); up {
		return false
	}
	if _, up := j.growing(); up {
		return false
	}
	var mean float64
	for _, r := range j.recent {
		mean += r.Achieved()
	}
	mean /= float64(len(j.recent))
	for _, r := range j.recent {
		noise := 3 * math.Sqrt(mean/r.Width.Seconds())
		if math.Abs(r.Achieved()-mean) > j.steady.Tolerance*mean+noise {
			return false
		}
	}
	for _, s := range j.latency {
		vs := make([]float64, 0, len(j.recent))
		for _, r := range j.recent {
			if v, ok := s.Value(r); ok {
				vs = append(vs, v)
			}
		}
		if len(vs) == 0 {
			continue
		}
		slices.Sort(vs)
		med := vs[len(vs)/2]
		floor := 0.0
		if s.Latency() {
			floor = j.steady.LatencyFloor.Seconds()
		}
		if vs[0] < med-j.steady.SignalTolerance*med-floor || vs[len(vs)-1] > med+j.steady.SignalTolerance*med+floor {
			return false
		}
	}
	return true
}

// rising returns a latency that rose in every recent window, by more than the
// signal tolerance in all.
func (j *judge) rising() (string, bool) {
	for _, s := range j.latency {
		if !s.Latency() {
			continue
		}
		prev, first := -1.0, -1.0
		up := true
		for _, r := range j.recent {
			v, ok := s.Value(r)
			if !ok || v <= prev {
				up = false
				break
			}
			if first < 0 {
				first = v
			}
			prev = v
		}
		if up && prev > first*(1+j.steady.SignalTolerance)+j.steady.LatencyFloor.Seconds() {
			return s.Name, true
		}
	}
	return "", false
}

// step describes the step from its judged windows.
func (j *judge) step(last Window, ws []Window, steady bool) Step {
	m := merge(ws)
	st := Step{Level: j.level, Start: j.start, End: last.End, Windows: j.seen, Offered: m.Offered, Users: m.Users,
		Achieved: m.Achieved(), Steady: steady, Signals: m.Signals}
	st.P50, _ = m.Percentile(50)
	st.P99, _ = m.Percentile(99)
	st.P999, _ = m.Percentile(99.9)
	st.ErrorRate, _ = m.ErrorRate()
	return st
}
