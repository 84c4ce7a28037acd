package control

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// SeekConfig configures a Seek.
type SeekConfig struct {
	// Unit is what the search varies: the offered rate (open loop, the default) or the
	// number of users (closed loop, zk-locust's max_load_seeker).
	Unit Unit
	// Constraints must all hold at a level for it to pass.
	Constraints []Constraint
	// Start is the first level (operations/s, or users); default 100 for rates, 8 for
	// users.
	Start float64
	// Min and Max bound the levels tried (0: 1, and no bound).
	Min, Max float64
	// Growth multiplies the level after each passing step until one fails; default 2.
	Growth float64
	// Precision is the bracket's relative width at which the search stops:
	// hi/lo-1 <= Precision (for users, also when hi-lo is one user); default 0.02.
	Precision float64
	// Throughput is how far below the offered rate the achieved rate may fall at a
	// passing step (open loop); default 0.03.
	Throughput float64
	// AllowExpiry lets a closed-loop step pass with expired sessions (by default a
	// session expiry fails it, as in zk-locust's seeker).
	AllowExpiry bool
	// SpawnRate is how fast a closed-loop step starts its users (users/s, 0: at once).
	SpawnRate float64
	// Steady says when a step is judged.
	Steady Steadiness
	// Retries is how many times a failed level is held again before the failure
	// counts: a transient disturbance (a stall of the target, or of the load generator
	// on a shared machine) fails one step, a real limit every one. 0: none; NewSeek's
	// default is 1 (NoRetry for none).
	Retries int
}

// NoRetry is SeekConfig.Retries for a search that takes every failure as final.
const NoRetry = -1

// SeekResult is what a search found.
type SeekResult struct {
	Unit Unit
	// Capacity is the highest level that passed (0 when none did); Achieved the rate
	// achieved there.
	Capacity float64
	Achieved float64
	// Lo and Hi bracket the knee: Lo passed and Hi failed (0 when no level failed:
	// the capacity is at least Max). Precision is Hi/Lo-1, the relative uncertainty of
	// the capacity as the search saw it (the measurement's own tolerances come on top:
	// see Steadiness and SeekConfig.Throughput).
	Lo, Hi    float64
	Precision float64
	// Knee is the index in Steps of the step at Capacity (-1 when none passed).
	Knee int
	// Steps are every level held, in the order held.
	Steps []Step
	// Done is set when the search is over; Reason says how it ended.
	Done   bool
	Reason string
}

// Curve returns the steps sorted by level: the curve of offered load against achieved
// rate and latency.
func (r SeekResult) Curve() []Step {
	c := slices.Clone(r.Steps)
	slices.SortStableFunc(c, func(a, b Step) int {
		switch {
		case a.Level < b.Level:
			return -1
		case a.Level > b.Level:
			return 1
		}
		return 0
	})
	return c
}

// String summarises the result: "capacity 4960/s (between 4960 and 5050/s, 1.8%) after 11 steps".
func (r SeekResult) String() string {
	u := "/s"
	if r.Unit == Users {
		u = " users"
	}
	if !r.Done {
		return fmt.Sprintf("searching: %d steps so far", len(r.Steps))
	}
	switch {
	case r.Capacity == 0:
		return fmt.Sprintf("no capacity found: %s", r.Reason)
	case r.Hi == 0:
		return fmt.Sprintf("capacity at least %s%s (%s) after %d steps", num(r.Capacity), u, r.Reason, len(r.Steps))
	}
	return fmt.Sprintf("capacity %s%s (between %s and %s%s, %.2g%%) after %d steps", num(r.Capacity), u, num(r.Lo), num(r.Hi), u, 100*r.Precision, len(r.Steps))
}

// Seek searches the highest sustained load at which every constraint holds.
//
// The search brackets the knee, then narrows the bracket. It grows the level by Growth
// from Start while steps pass (Balter's exponential growth: the knee is bracketed within
// a factor Growth in log_Growth(capacity/Start) steps), or shrinks it by Growth while
// they fail. Then each step picks a level strictly inside the bracket (lo, hi):
//
//   - a hint, when the step that failed could not keep up: an open loop that offers
//     more than the target can serve achieves what the target serves, so the achieved
//     rate A of an overloaded step is an estimate of the capacity itself (exact for a
//     queueing server: it serves its capacity whatever it is offered). The next step
//     tries A·(1-Precision/2); if it passes, the next tries lo·(1+Precision), and when
//     that fails the bracket is within Precision: two steps where bisection from a
//     factor-2 bracket takes log2(ln 2/ln(1+Precision)), about 5 at 2%.
//   - otherwise the bracket's geometric mean sqrt(lo·hi), which halves its width in log
//     scale (the growth phase's scale).
//
// A hint is tried only when it lies in the bracket, and never twice in a row without a
// bisection between, so the search takes at most twice bisection's steps when hints
// mislead (a latency constraint that binds below the throughput capacity makes every
// hint fail on latency, and a failing latency gives no hint). The search assumes that
// passing is monotonic in the level (what passes at a level passes below it); a step
// that contradicts it does not widen the bracket.
//
// After a step that failed in the open loop the target may hold a backlog (a queue
// keeps what it could not serve); the next step waits, at the minimum rate, until a
// window shows the target serving no more than it is offered.
//
// In users (closed loop), levels are whole users and there is no hint: a closed loop
// does not overload the target; latency grows with users instead (Little's law).
type Seek struct {
	cfg      SeekConfig
	j        judge
	lo, hi   float64
	knee     int
	hint     float64
	confirm  bool // the last step was a hint, and it passed
	lastHint bool // the last step was a hint
	retried  int  // how many times the current level failed and was held again
	kind     string
	last     Decision
	res      SeekResult

	// After a step that failed in the open loop, the target may hold a backlog (an
	// overloaded queue keeps what it could not serve); the next step waits until it has
	// drained at drainRate, from drainStart.
	draining   bool
	drainRate  float64
	drainStart time.Time
	drainLimit time.Duration
	nextLevel  float64
}

// NewSeek checks the configuration and returns a search.
func NewSeek(cfg SeekConfig) (*Seek, error) {
	if cfg.Start == 0 {
		cfg.Start = map[Unit]float64{Rate: 100, Users: 8}[cfg.Unit]
	}
	if cfg.Min == 0 {
		cfg.Min = 1
	}
	if cfg.Growth == 0 {
		cfg.Growth = 2
	}
	if cfg.Precision == 0 {
		cfg.Precision = 0.02
	}
	if cfg.Throughput == 0 {
		cfg.Throughput = 0.03
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = 1
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	switch {
	case cfg.Start < 0 || cfg.Min < 0 || cfg.Max < 0:
		return nil, errors.New("seek: start, min and max must be positive")
	case cfg.Max > 0 && cfg.Min > cfg.Max:
		return nil, fmt.Errorf("seek: min %g above max %g", cfg.Min, cfg.Max)
	case cfg.Growth <= 1:
		return nil, fmt.Errorf("seek: growth %g: want a factor above 1, such as 2", cfg.Growth)
	case cfg.Precision <= 0 || cfg.Precision >= 1:
		return nil, fmt.Errorf("seek: precision %g: want a fraction such as 0.02", cfg.Precision)
	case cfg.Throughput < 0 || cfg.Throughput >= 1:
		return nil, fmt.Errorf("seek: throughput tolerance %g: want a fraction such as 0.03", cfg.Throughput)
	}
	cfg.Start = math.Max(cfg.Start, cfg.Min)
	if cfg.Max > 0 {
		cfg.Start = math.Min(cfg.Start, cfg.Max)
	}
	cfg.Steady.defaults()
	s := &Seek{cfg: cfg, knee: -1, kind: "start"}
	s.j = judge{unit: cfg.Unit, constraints: cfg.Constraints, steady: cfg.Steady, throughput: cfg.Throughput, allowExpiry: cfg.AllowExpiry}
	s.res = SeekResult{Unit: cfg.Unit, Knee: -1}
	return s, nil
}

// Start begins the first step.
func (s *Seek) Start(now time.Time) Decision { return s.hold(s.level(s.cfg.Start), now) }

// Tick returns the current decision: a search changes only with windows.
func (s *Seek) Tick(now time.Time) Decision {
	d := s.last
	d.At = now
	return d
}

// Result is what the search found so far.
func (s *Seek) Result() SeekResult { return s.res }

// Observe takes a window of the current step; when the step is judged, it picks the
// next level, or ends the search.
func (s *Seek) Observe(w Window) Decision {
	if s.res.Done {
		return s.Tick(w.End)
	}
	if s.draining {
		return s.drain(w)
	}
	out, st := s.j.observe(w)
	if out == pending {
		s.last.At, s.last.Reason = w.End, fmt.Sprintf("holding %s: %s", s.format(s.j.level), "not judged yet")
		return s.last
	}
	st.How = s.kind
	s.res.Steps = append(s.res.Steps, st)
	level := st.Level
	if out == failed && s.retried < s.cfg.Retries {
		// Hold the level again (after the drain, in the open loop) before the failure
		// counts: the search is only as good as its worst judgement.
		s.retried++
		s.kind = "retry"
		verdict := fmt.Sprintf("%s failed: %s; holding it again before the failure counts", s.format(level), st.Reason)
		if s.cfg.Unit == Rate {
			return s.startDrain(w, st, level, verdict)
		}
		d := s.hold(level, w.End)
		d.Reason = verdict + "; " + d.Reason
		return d
	}
	s.retried = 0
	if out == passed {
		if level > s.lo {
			s.lo, s.knee = level, len(s.res.Steps)-1
			s.res.Achieved = st.Achieved
		}
		s.confirm = s.lastHint
	} else {
		if s.hi == 0 || level < s.hi {
			s.hi = level
		}
		s.confirm = false
		if s.cfg.Unit == Rate && !s.lastHint && st.Achieved < (1-s.cfg.Throughput)*st.Offered {
			s.hint = st.Achieved
		}
	}
	s.res.Capacity, s.res.Lo, s.res.Hi, s.res.Knee = s.lo, s.lo, s.hi, s.knee
	if s.lo > 0 && s.hi > 0 {
		s.res.Precision = s.hi/s.lo - 1
	}
	next, reason, done := s.next()
	verdict := fmt.Sprintf("%s %s: %s", s.format(level), map[bool]string{true: "passed", false: "failed"}[st.Pass], st.Reason)
	if done {
		s.res.Done, s.res.Reason = true, reason
		d := s.decision(s.lo, w.End)
		d.Done, d.Reason = true, verdict+"; "+s.res.String()
		s.last = d
		return d
	}
	if out == failed && s.cfg.Unit == Rate {
		return s.startDrain(w, st, next, verdict)
	}
	d := s.hold(next, w.End)
	d.Reason = verdict + "; next " + d.Reason
	return d
}

// startDrain drains the backlog the failed step st may have left, offering next to
// nothing (Min) so that the target serves it at full speed, before the step at next:
// it must not count against it. An estimate of the backlog (what was offered and not
// served) at the rate the failed step achieved bounds the wait, at least MaxHold.
func (s *Seek) startDrain(w Window, st Step, next float64, verdict string) Decision {
	s.draining, s.drainStart, s.nextLevel, s.drainRate = true, w.End, next, s.cfg.Min
	s.drainLimit = s.cfg.Steady.MaxHold
	if a := st.Achieved; a > 0 {
		s.drainLimit = max(s.drainLimit, time.Duration(2*s.j.backlog/a*float64(time.Second)))
	}
	d := s.decision(s.drainRate, w.End)
	d.Reason = fmt.Sprintf("%s; draining at %s before %s (%s)", verdict, s.format(s.drainRate), s.format(next), s.kind)
	s.last = d
	return d
}

// drain waits, after a failed step, for a window in which the target served no more
// than it was offered (plus the tolerance and the counting noise): its backlog is gone.
// A target that has not drained in time (twice its estimated backlog, at least MaxHold)
// ends the search.
func (s *Seek) drain(w Window) Decision {
	o := w.Offered
	if w.Achieved() <= (1+s.cfg.Throughput)*o+3*math.Sqrt(o/w.Width.Seconds()) {
		s.draining = false
		d := s.hold(s.nextLevel, w.End)
		d.Reason = fmt.Sprintf("drained (achieved %s/s of %s/s); next %s", num(w.Achieved()), num(o), d.Reason)
		return d
	}
	if held := w.End.Sub(s.drainStart); held >= s.drainLimit {
		s.res.Done, s.res.Reason = true, fmt.Sprintf("the target still served a backlog (%s/s at %s/s offered) %s after the last failed step", num(w.Achieved()), num(o), held.Round(time.Second))
		d := s.decision(s.lo, w.End)
		d.Done, d.Reason = true, s.res.String()
		s.last = d
		return d
	}
	s.last.At, s.last.Reason = w.End, fmt.Sprintf("draining at %s: the target still serves a backlog (%s/s)", s.format(s.drainRate), num(w.Achieved()))
	return s.last
}

// next picks the next level, or says the search is over and why.
func (s *Seek) next() (float64, string, bool) {
	c := s.cfg
	lo, hi := s.lo, s.hi
	s.lastHint = false
	switch {
	case hi == 0: // every step passed: grow
		if c.Max > 0 && lo >= c.Max {
			return 0, fmt.Sprintf("the maximum %s passed", s.format(c.Max)), true
		}
		n := lo * c.Growth
		if c.Max > 0 {
			n = math.Min(n, c.Max)
		}
		s.kind = "growth"
		return s.level(n), "", false
	case lo == 0: // every step failed: shrink
		if hi <= c.Min {
			return 0, fmt.Sprintf("even the minimum %s failed", s.format(c.Min)), true
		}
		if h := s.hint; h > 0 {
			s.hint = 0
			if n := s.level(h * (1 - c.Precision/2)); n >= c.Min && n < hi {
				s.kind, s.lastHint = "hint", true
				return n, "", false
			}
		}
		s.kind = "growth"
		return s.level(math.Max(hi/c.Growth, c.Min)), "", false
	}
	if s.narrow(lo, hi) {
		return 0, fmt.Sprintf("bracket within %.2g%%", 100*(hi/lo-1)), true
	}
	if s.confirm {
		s.confirm = false
		if n := s.level(lo * (1 + c.Precision)); n > lo && n < hi {
			s.kind = "confirm"
			return n, "", false
		}
	}
	if h := s.hint; h > 0 {
		s.hint = 0
		if n := s.level(h * (1 - c.Precision/2)); n > lo && n < hi {
			s.kind, s.lastHint = "hint", true
			return n, "", false
		}
	}
	n := s.level(math.Sqrt(lo * hi))
	if n <= lo || n >= hi { // whole users: the geometric mean rounds onto a bound
		n = s.level((lo + hi) / 2)
	}
	if n <= lo || n >= hi {
		return 0, "bracket one user wide", true
	}
	s.kind = "bisect"
	return n, "", false
}

// narrow reports whether the bracket is as narrow as asked.
func (s *Seek) narrow(lo, hi float64) bool {
	if s.cfg.Unit == Users && hi-lo <= 1 {
		return true
	}
	return hi/lo-1 <= s.cfg.Precision
}

// level rounds a level to what the unit allows.
func (s *Seek) level(v float64) float64 {
	if s.cfg.Unit == Users {
		return math.Max(1, math.Round(v))
	}
	return v
}

// hold starts a step at level.
func (s *Seek) hold(level float64, at time.Time) Decision {
	s.j.begin(level, at)
	d := s.decision(level, at)
	d.Reason = fmt.Sprintf("%s (%s)", s.format(level), s.kind)
	s.last = d
	return d
}

func (s *Seek) decision(level float64, at time.Time) Decision {
	d := Decision{At: at, Unit: s.cfg.Unit}
	if s.cfg.Unit == Users {
		d.Users, d.SpawnRate = int(level), s.cfg.SpawnRate
	} else {
		d.Rate = level
	}
	return d
}

// format shows a level in its unit.
func (s *Seek) format(v float64) string {
	if s.cfg.Unit == Users {
		return fmt.Sprintf("%d users", int(v))
	}
	return fmt.Sprintf("%s/s", num(v))
}

// num shows a level or a rate in a reason: four significant digits, but a whole
// number from 1000 on (13454/s, not 1.345e+04/s).
func num(v float64) string {
	if math.Abs(v) >= 1000 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
