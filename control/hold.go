package control

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Setpoint is a signal and the value to hold it at: "p99=10ms", "outstanding=100".
type Setpoint struct {
	// Text is the setpoint as written.
	Text   string
	Signal Signal
	// Value is in the signal's unit (seconds for latencies).
	Value float64
}

// ParseSetpoint reads SIGNAL=VALUE. Its error names the input and says what is expected.
func ParseSetpoint(text string) (Setpoint, error) {
	t := strings.TrimSpace(text)
	name, value, ok := strings.Cut(t, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || value == "" || strings.ContainsAny(name+value, "<>=!") {
		return Setpoint{}, fmt.Errorf("setpoint %q: want SIGNAL=VALUE such as p99=10ms or outstanding=100", t)
	}
	sig, err := ParseSignal(name)
	if err != nil {
		return Setpoint{}, fmt.Errorf("setpoint %q: %w", t, err)
	}
	switch sig.kind {
	case kindRate, kindUsers:
		return Setpoint{}, fmt.Errorf("setpoint %q: %s is what Hold steers; hold a latency, errors or an ensemble signal instead", t, name)
	}
	v, err := sig.parseValue(value)
	if err != nil {
		return Setpoint{}, fmt.Errorf("setpoint %q: %w", t, err)
	}
	if v <= 0 {
		return Setpoint{}, fmt.Errorf("setpoint %q: want a value above 0", t)
	}
	return Setpoint{Text: t, Signal: sig, Value: v}, nil
}

// Normalization is how Hold turns the gap between the setpoint and the signal into its
// error, so that one set of gains fits signals of every unit.
type Normalization int

// The normalizations. NormAuto picks NormSeconds for latencies, NormLittle for a signal
// whose name says it counts outstanding or queued requests, NormRelative otherwise.
const (
	NormAuto     Normalization = iota
	NormSeconds                // setpoint − signal, in seconds (latencies)
	NormLittle                 // (setpoint − signal) / achieved rate: a queue length as seconds of work (Little's law)
	NormRelative               // (setpoint − signal) / setpoint
)

// HoldConfig configures a Hold. The zero value of every field but Setpoint is its
// default.
type HoldConfig struct {
	Setpoint Setpoint
	// Start is the first rate (operations/s); default 100. Min and Max bound the rate
	// (0: 1, and no bound).
	Start, Min, Max float64
	// Kp, Ki and Kd are the gains of the velocity-form PID on the logarithm of the rate,
	// the error being normalized as Normalize says: Δln(rate) per window =
	// Kp·ΔE + Ki·E·Δt + Kd·Δ²E/Δt. Defaults 1 (per second), 0.3 (per second²) and 0;
	// see doc/load-control.md for why.
	Kp, Ki, Kd float64
	// MaxStep bounds the change of rate per window: a factor of at most 1+MaxStep up or
	// down; default 0.25.
	MaxStep float64
	// Growth multiplies the rate per window while the signal is below Approach times the
	// setpoint (the approach, where the signal does not yet respond to the rate);
	// defaults 1.25 and 0.5.
	Growth, Approach float64
	// Throughput: when the achieved rate falls below (1-Throughput) of the offered one
	// (the target cannot keep up), the next rate is at most what was achieved; default 0.05.
	Throughput float64
	Normalize  Normalization
	// Smooth is how many windows (the last ones, merged) the signal is read over;
	// default 1.
	Smooth int
}

// reapproach is how many windows in a row the signal must stay below Approach times
// the setpoint, while tracking, for Hold to approach again: more than noise does.
const reapproach = 3

// HoldPoint is one decision of a Hold, for the report's figure of the controller over
// time.
type HoldPoint struct {
	At       time.Time
	Signal   float64 // the signal over the window (NaN when the window did not tell)
	Achieved float64
	Offered  float64
	Rate     float64 // the rate decided for what follows
	Error    float64 // the normalized error
	Phase    string  // "approach" or "track"
}

// Hold keeps a signal at its setpoint by steering the offered rate (Ballast's mode).
//
// It starts with an approach: below the knee a latency hardly moves with the rate, so a
// PID would creep; the rate grows by Growth per window until the signal reaches
// Approach times the setpoint (or the target falls behind). Then a PID tracks the
// setpoint. It acts on ln(rate), in velocity form, so the gains are relative (a gain
// means the same at 100/s and at 100,000/s), the integrator is the rate itself
// (clamping the rate to [Min, Max] and to MaxStep is the whole anti-windup: there is
// no separate integral to wind up), and a change of gains takes effect without a bump.
// Latency errors are in seconds, not relative to the setpoint, because above capacity
// a queue's wait grows by (rate/capacity − 1) seconds per second, whatever the
// setpoint: in seconds the loop's gain is 1 there, and the default gains settle the
// loop in a few windows without overshoot (doc/load-control.md has the analysis).
type Hold struct {
	cfg   HoldConfig
	norm  Normalization
	rate  float64
	phase string
	errs  []float64 // the last errors, newest last (up to 3)
	// low counts the windows in a row whose signal was below Approach times the
	// setpoint; growth is the approach's factor (smaller at each new approach).
	low        int
	growth     float64
	confirming bool     // the approach holds its rate for a window above the threshold
	recent     []Window // the last Smooth windows
	last       Decision
	trace      []HoldPoint
}

// NewHold checks the configuration and returns a Hold.
func NewHold(cfg HoldConfig) (*Hold, error) {
	if cfg.Setpoint.Value <= 0 {
		return nil, errors.New("hold: want a setpoint such as p99=10ms")
	}
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Start, 100)
	def(&cfg.Min, 1)
	def(&cfg.Kp, 1)
	def(&cfg.Ki, 0.3)
	def(&cfg.MaxStep, 0.25)
	def(&cfg.Growth, 1.25)
	def(&cfg.Approach, 0.5)
	def(&cfg.Throughput, 0.05)
	switch {
	case cfg.Start < 0 || cfg.Min < 0 || cfg.Max < 0:
		return nil, errors.New("hold: start, min and max must be positive")
	case cfg.Max > 0 && cfg.Min > cfg.Max:
		return nil, fmt.Errorf("hold: min %g above max %g", cfg.Min, cfg.Max)
	case cfg.Kp < 0 || cfg.Ki < 0 || cfg.Kd < 0:
		return nil, errors.New("hold: gains must be 0 or more")
	case cfg.MaxStep <= 0 || cfg.Growth < 1 || cfg.Approach < 0 || cfg.Approach > 1:
		return nil, errors.New("hold: want max step above 0, growth of 1 or more, approach from 0 to 1")
	}
	if cfg.Smooth <= 0 {
		cfg.Smooth = 1
	}
	h := &Hold{cfg: cfg, norm: cfg.Normalize, rate: h0(cfg), phase: "approach", growth: cfg.Growth}
	if h.norm == NormAuto {
		switch n := strings.ToLower(cfg.Setpoint.Signal.Name); {
		case cfg.Setpoint.Signal.Latency():
			h.norm = NormSeconds
		case strings.Contains(n, "outstanding") || strings.Contains(n, "queue"):
			h.norm = NormLittle
		default:
			h.norm = NormRelative
		}
	}
	return h, nil
}

// h0 is the first rate, within the bounds.
func h0(cfg HoldConfig) float64 {
	r := math.Max(cfg.Start, cfg.Min)
	if cfg.Max > 0 {
		r = math.Min(r, cfg.Max)
	}
	return r
}

// Start decides the first rate.
func (h *Hold) Start(now time.Time) Decision {
	h.last = Decision{At: now, Unit: Rate, Rate: h.rate, Reason: fmt.Sprintf("hold %s: start at %s/s", h.cfg.Setpoint.Text, num(h.rate))}
	return h.last
}

// Tick returns the current decision: Hold changes only with windows.
func (h *Hold) Tick(now time.Time) Decision {
	d := h.last
	d.At = now
	return d
}

// Trace is every decision taken with what it saw.
func (h *Hold) Trace() []HoldPoint { return h.trace }

// Observe takes a window and decides the rate for the next.
func (h *Hold) Observe(w Window) Decision {
	sp := h.cfg.Setpoint
	h.recent = append(h.recent, w)
	if len(h.recent) > h.cfg.Smooth {
		h.recent = h.recent[1:]
	}
	y, known := sp.Signal.Value(merge(h.recent))
	a := w.Achieved()
	prev := h.rate
	pt := HoldPoint{At: w.End, Signal: math.NaN(), Achieved: a, Offered: w.Offered}
	var why string
	if h.behind(w) && h.rate > a {
		// The target served less than it was offered: offering more only grows its
		// queue. The step below starts from what it served.
		h.rate = a
		why = fmt.Sprintf("achieved %s/s of %s/s offered: from what was served; ", num(a), num(w.Offered))
	}
	if known && y < h.cfg.Approach*sp.Value && !h.behind(w) {
		h.low++
	} else {
		h.low = 0
	}
	switch {
	case !known:
		why += fmt.Sprintf("%s unknown in this window: rate kept", sp.Signal.Name)
	case h.phase == "approach" && h.low == 0 && !h.confirming && !h.behind(w):
		// One window at the threshold may be noise (a p99.9 over a few hundred
		// operations is nearly their maximum): hold the rate one window to see.
		h.confirming = true
		why += fmt.Sprintf("%s %s at %.2g of the setpoint %s or more: holding a window to confirm", sp.Signal.Name, sp.Signal.Format(y), h.cfg.Approach, sp.Signal.Format(sp.Value))
	case h.phase == "approach" && h.low > 0 || h.low >= reapproach:
		h.confirming = false
		if h.phase == "track" {
			// Back below the knee for a while (the last approach stopped on noise, or
			// the target got faster): approach again, more gently each time.
			h.phase = "approach"
			h.growth = math.Max(1+(h.growth-1)/2, 1+(h.cfg.Growth-1)/8)
		}
		h.rate *= h.growth
		why += fmt.Sprintf("%s %s < %.2g of the setpoint %s: approach", sp.Signal.Name, sp.Signal.Format(y), h.cfg.Approach, sp.Signal.Format(sp.Value))
	default:
		if h.phase == "approach" {
			// The approach ended past the knee, or just below it. Tracking starts from
			// what the target served (its capacity, if it fell behind), and as if the
			// error had been 0 before: the first step applies Kp to the whole error,
			// as the position form would, so that a queue the approach left behind is
			// drained instead of taken as the norm.
			h.phase, h.errs = "track", []float64{0}
			if a > 0 {
				h.rate = math.Min(h.rate, a)
			}
		}
		e := h.error(y, a)
		pt.Error = e
		h.errs = append(h.errs, e)
		if len(h.errs) > 3 {
			h.errs = h.errs[1:]
		}
		dt := w.Width.Seconds()
		if dt <= 0 {
			dt = 1
		}
		n := len(h.errs)
		// The integral sees the error clipped to what a signal at twice the setpoint
		// gives: a signal is never below 0, so an error is never above the setpoint, and
		// the clip makes the integral's steps as large down as up. Without it, an
		// overshoot (a queue of 250 ms under a 10 ms setpoint) winds the integral down
		// so far that the rate then creeps back for minutes.
		du := h.cfg.Ki * math.Max(e, h.error(2*sp.Value, a)) * dt
		if n >= 2 {
			du += h.cfg.Kp * (e - h.errs[n-2])
		}
		if n >= 3 {
			du += h.cfg.Kd * (e - 2*h.errs[n-2] + h.errs[n-3]) / dt
		}
		lim := math.Log1p(h.cfg.MaxStep)
		du = math.Max(-lim, math.Min(lim, du))
		h.rate *= math.Exp(du)
		why += fmt.Sprintf("%s %s, setpoint %s", sp.Signal.Name, sp.Signal.Format(y), sp.Signal.Format(sp.Value))
	}
	if known {
		pt.Signal = y
	}
	h.rate = math.Max(h.rate, h.cfg.Min)
	if h.cfg.Max > 0 {
		h.rate = math.Min(h.rate, h.cfg.Max)
	}
	pt.Rate, pt.Phase = h.rate, h.phase
	h.trace = append(h.trace, pt)
	h.last = Decision{At: w.End, Unit: Rate, Rate: h.rate, Reason: fmt.Sprintf("%s: %s → %s/s (%s)", why, num(prev), num(h.rate), h.phase)}
	return h.last
}

// behind reports whether the target served clearly less than it was offered.
func (h *Hold) behind(w Window) bool {
	if w.Offered <= 0 || w.Width <= 0 {
		return false
	}
	// Counting noise (3 standard deviations of a Poisson count) is not falling behind.
	return w.Achieved() < (1-h.cfg.Throughput)*w.Offered-3*math.Sqrt(w.Offered/w.Width.Seconds())
}

// error is the normalized gap between the setpoint and the signal: positive when the
// rate may grow.
func (h *Hold) error(y, achieved float64) float64 {
	sp := h.cfg.Setpoint.Value
	switch h.norm {
	case NormLittle:
		if achieved <= 0 {
			achieved = h.rate
		}
		return (sp - y) / achieved
	case NormRelative:
		return (sp - y) / sp
	}
	return sp - y
}
