package control

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// signalKind is what a signal measures, which decides its unit.
type signalKind int

const (
	kindPercentile signalKind = iota // a latency percentile (seconds)
	kindMean                         // the mean latency (seconds)
	kindMax                          // the longest latency (seconds)
	kindErrors                       // the fraction of operations that failed
	kindRate                         // the achieved rate (operations/s)
	kindUsers                        // the users running
	kindLag                          // the open loop's schedule lag (seconds)
	kindEnsemble                     // a signal of Window.Signals, in its own unit
)

// Signal is a quantity read from a window: a latency percentile ("p99", "p99.9"),
// "mean", "max", "errors" (the fraction failed), "rate" (achieved operations/s),
// "users", "lag", or any other name, read from Window.Signals (an ensemble signal such
// as "outstanding" or "quorum"). Latencies are in seconds.
type Signal struct {
	// Name is the signal as written.
	Name       string
	kind       signalKind
	percentile float64
}

var (
	percentileRx = regexp.MustCompile(`^p([0-9]+(\.[0-9]+)?)$`)
	nameRx       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:/-]*$`)
)

// signalHelp lists what a signal may be, for errors.
const signalHelp = "a percentile such as p99 or p99.9, mean, max, errors, rate, users, lag, or an ensemble signal's name such as outstanding"

// ParseSignal reads a signal's name.
func ParseSignal(name string) (Signal, error) {
	switch name {
	case "mean", "avg":
		return Signal{Name: name, kind: kindMean}, nil
	case "max":
		return Signal{Name: name, kind: kindMax}, nil
	case "errors", "error_rate", "failures":
		return Signal{Name: name, kind: kindErrors}, nil
	case "rate", "rps", "achieved":
		return Signal{Name: name, kind: kindRate}, nil
	case "users":
		return Signal{Name: name, kind: kindUsers}, nil
	case "lag":
		return Signal{Name: name, kind: kindLag}, nil
	}
	if m := percentileRx.FindStringSubmatch(name); m != nil {
		p, err := strconv.ParseFloat(m[1], 64)
		if err != nil || p <= 0 || p > 100 {
			return Signal{}, fmt.Errorf("%q: want a percentile above p0 and at most p100", name)
		}
		return Signal{Name: name, kind: kindPercentile, percentile: p}, nil
	}
	if !nameRx.MatchString(name) {
		return Signal{}, fmt.Errorf("%q: want %s", name, signalHelp)
	}
	return Signal{Name: name, kind: kindEnsemble}, nil
}

// Latency reports whether the signal is a response time (in seconds).
func (s Signal) Latency() bool {
	return s.kind == kindPercentile || s.kind == kindMean || s.kind == kindMax || s.kind == kindLag
}

// Ensemble reports whether the signal comes from Window.Signals.
func (s Signal) Ensemble() bool { return s.kind == kindEnsemble }

// Value reads the signal from a window, and false when the window does not tell (no
// operation completed, or the ensemble signal is missing).
func (s Signal) Value(w Window) (float64, bool) {
	switch s.kind {
	case kindPercentile:
		d, ok := w.Percentile(s.percentile)
		return d.Seconds(), ok
	case kindMean:
		if w.Requests() == 0 {
			return 0, false
		}
		return w.Summary.MeanNanos() / 1e9, true
	case kindMax:
		if w.Requests() == 0 {
			return 0, false
		}
		return float64(w.Summary.MaxNanos) / 1e9, true
	case kindErrors:
		return w.ErrorRate()
	case kindRate:
		return w.Achieved(), w.Width > 0
	case kindUsers:
		return float64(w.Users), true
	case kindLag:
		return w.Lag.Seconds(), true
	}
	v, ok := w.Signals[s.Name]
	return v, ok && !math.IsNaN(v)
}

// Format shows a value of the signal in its unit: "12.3ms", "1.25%", "104".
func (s Signal) Format(v float64) string {
	switch {
	case s.Latency():
		return formatSeconds(v)
	case s.kind == kindErrors:
		return strconv.FormatFloat(100*v, 'g', 4, 64) + "%"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// formatSeconds shows seconds as a duration rounded to 3 significant digits.
func formatSeconds(v float64) string {
	d := time.Duration(v * 1e9)
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// parseValue reads a limit or setpoint for the signal: a duration for latencies
// ("10ms"), a percentage or a fraction for errors ("1%", "0.01"), a number otherwise.
func (s Signal) parseValue(text string) (float64, error) {
	switch {
	case s.Latency():
		d, err := time.ParseDuration(text)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%s is a latency: want a duration such as 10ms, not %q", s.Name, text)
		}
		return d.Seconds(), nil
	case s.kind == kindErrors:
		pct := strings.HasSuffix(text, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(text, "%"), 64)
		if pct {
			v /= 100
		}
		if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
			return 0, fmt.Errorf("%s is a fraction of the operations: want a percentage such as 1%% or a fraction such as 0.01, not %q", s.Name, text)
		}
		return v, nil
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: want a number, not %q", s.Name, text)
	}
	return v, nil
}

// Op compares a signal with a limit.
type Op string

// The comparisons.
const (
	Less         Op = "<"
	LessEqual    Op = "<="
	Greater      Op = ">"
	GreaterEqual Op = ">="
	Equal        Op = "=="
	NotEqual     Op = "!="
)

// holds reports whether v op limit.
func (op Op) holds(v, limit float64) bool {
	switch op {
	case Less:
		return v < limit
	case LessEqual:
		return v <= limit
	case Greater:
		return v > limit
	case GreaterEqual:
		return v >= limit
	case Equal:
		return v == limit
	case NotEqual:
		return v != limit
	}
	return false
}

// negated is the operator that holds exactly when op does not, for messages.
func (op Op) negated() Op {
	return map[Op]Op{Less: GreaterEqual, LessEqual: Greater, Greater: LessEqual, GreaterEqual: Less, Equal: NotEqual, NotEqual: Equal}[op]
}

// Constraint is a condition on a signal: "p99<10ms", "errors<1%", "outstanding<100".
type Constraint struct {
	// Text is the constraint as written.
	Text   string
	Signal Signal
	Op     Op
	// Limit is in the signal's unit: seconds for latencies, a fraction for errors.
	Limit float64
}

// constraintHelp is the form of a constraint, for errors.
const constraintHelp = "want SIGNAL OP VALUE such as p99<10ms, p99.9<=50ms, errors<1% or outstanding<100 (OP one of < <= > >= == !=)"

// ParseConstraint reads one constraint. Its error names the input and says what is
// expected.
func ParseConstraint(text string) (Constraint, error) {
	c, err := parseCondition(text)
	if err != nil {
		return Constraint{}, fmt.Errorf("constraint %q: %w", strings.TrimSpace(text), err)
	}
	return c, nil
}

// parseCondition reads SIGNAL OP VALUE.
func parseCondition(text string) (Constraint, error) {
	t := strings.TrimSpace(text)
	i := strings.IndexAny(t, "<>=!")
	if i <= 0 {
		return Constraint{}, errors.New(constraintHelp)
	}
	name := strings.TrimSpace(t[:i])
	rest := t[i:]
	var op Op
	for _, o := range []Op{LessEqual, GreaterEqual, Equal, NotEqual, Less, Greater} {
		if strings.HasPrefix(rest, string(o)) {
			op = o
			break
		}
	}
	value := ""
	if op != "" {
		value = strings.TrimSpace(rest[len(op):])
	}
	if op == "" || value == "" || strings.ContainsAny(value, "<>=!") {
		return Constraint{}, errors.New(constraintHelp)
	}
	sig, err := ParseSignal(name)
	if err != nil {
		return Constraint{}, err
	}
	limit, err := sig.parseValue(value)
	if err != nil {
		return Constraint{}, err
	}
	return Constraint{Text: t, Signal: sig, Op: op, Limit: limit}, nil
}

// ParseConstraints reads a comma-separated list of constraints ("p99<10ms,
// errors<1%"); an empty text gives none.
func ParseConstraints(text string) ([]Constraint, error) {
	var cs []Constraint
	for _, part := range strings.Split(text, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		c, err := ParseConstraint(part)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// Check evaluates the constraint on a window: whether it holds, whether the window
// tells (known), and the signal's value.
func (c Constraint) Check(w Window) (ok, known bool, value float64) {
	v, known := c.Signal.Value(w)
	if !known {
		return false, false, 0
	}
	return c.Op.holds(v, c.Limit), true, v
}

// Explain says how value compares with the limit: "p99 12.3ms >= 10ms".
func (c Constraint) Explain(value float64) string {
	op := c.Op
	if !op.holds(value, c.Limit) {
		op = op.negated()
	}
	return fmt.Sprintf("%s %s %s %s", c.Signal.Name, c.Signal.Format(value), op, c.Signal.Format(c.Limit))
}

// String is the constraint as written.
func (c Constraint) String() string { return c.Text }
