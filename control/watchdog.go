package control

import (
	"fmt"
	"strings"
	"time"
)

// ExitWatchdog is the exit code of a test the watchdog stopped: distinct from zkload's
// 0 (success), 1 (failures) and 2 (bad input), so that a script tells "the target broke
// down, the test was cut short" from "some requests failed".
const ExitWatchdog = 3

// Rule is a condition that stops the test when it holds over a time: "errors>5% for
// 30s", "p99>1s for 1m", "quorum lost for 10s" (the ensemble signal "quorum" below 1).
type Rule struct {
	// Text is the rule as written.
	Text string
	// Condition is what must hold (a Constraint, here read as the bad case).
	Condition Constraint
	// For is how long it must hold, in every window over it; 0 stops the test at the
	// first window where it holds.
	For time.Duration
}

// ruleHelp is the form of a rule, for errors.
const ruleHelp = `want CONDITION [for DURATION] such as "errors>5% for 30s", "p99>1s for 1m" or "quorum lost for 10s"`

// ParseRule reads one rule. Its error names the input and says what is expected.
func ParseRule(text string) (Rule, error) {
	t := strings.TrimSpace(text)
	cond, dur, hasFor := t, "", false
	if i := strings.LastIndex(t, " for "); i >= 0 {
		cond, dur, hasFor = strings.TrimSpace(t[:i]), strings.TrimSpace(t[i+len(" for "):]), true
	}
	r := Rule{Text: t}
	if hasFor {
		d, err := time.ParseDuration(dur)
		if err != nil || d < 0 {
			return Rule{}, fmt.Errorf("watchdog rule %q: %q: want a duration such as 30s (%s)", t, dur, ruleHelp)
		}
		r.For = d
	}
	if f := strings.Fields(cond); len(f) == 2 && f[1] == "lost" {
		cond = f[0] + "<1" // "quorum lost": the signal's 1 means held, 0 lost
	}
	c, err := parseCondition(cond)
	if err != nil {
		if strings.HasPrefix(err.Error(), "want SIGNAL") {
			err = fmt.Errorf("%s", ruleHelp)
		}
		return Rule{}, fmt.Errorf("watchdog rule %q: %w", t, err)
	}
	r.Condition = c
	return r, nil
}

// ParseRules reads rules separated by commas or new lines; an empty text gives none.
func ParseRules(text string) ([]Rule, error) {
	var rs []Rule
	for _, part := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' }) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		r, err := ParseRule(part)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// Watchdog watches the windows for its rules. A rule fires when its condition held in
// every window from one that began at least For ago to the one that just ended; a
// window where the condition does not hold starts over, and one that cannot tell (no
// operation completed, the signal missing) neither breaks nor extends the run: a
// target so broken that nothing completes must not reset the clock.
type Watchdog struct {
	rules []Rule
	since []time.Time // when each rule's condition began to hold (zero: it does not)
	fired *Verdict
}

// NewWatchdog returns a watchdog of the rules.
func NewWatchdog(rules []Rule) *Watchdog {
	return &Watchdog{rules: rules, since: make([]time.Time, len(rules))}
}

// Observe takes a window and returns a verdict if a rule fires (and the same verdict
// for every window after).
func (wd *Watchdog) Observe(w Window) *Verdict {
	if wd.fired != nil {
		return wd.fired
	}
	for i, r := range wd.rules {
		holds, known, v := r.Condition.Check(w)
		switch {
		case !known:
			continue
		case !holds:
			wd.since[i] = time.Time{}
			continue
		case wd.since[i].IsZero():
			wd.since[i] = w.Start()
		}
		if held := w.End.Sub(wd.since[i]); held >= r.For {
			wd.fired = &Verdict{At: w.End, Rule: r.Text, ExitCode: ExitWatchdog,
				Text: fmt.Sprintf("stopped by the watchdog: %s for %s (since %s; rule %q)",
					r.Condition.Explain(v), held.Round(time.Millisecond), wd.since[i].Format("15:04:05"), r.Text)}
			return wd.fired
		}
	}
	return nil
}

// Guard returns c stopped by the watchdog: the first verdict ends the test (a Done
// decision carrying it, the load as c last decided).
func Guard(c Controller, wd *Watchdog) Controller { return &guarded{c: c, wd: wd} }

type guarded struct {
	c    Controller
	wd   *Watchdog
	last Decision
}

func (g *guarded) Start(now time.Time) Decision {
	g.last = g.c.Start(now)
	return g.last
}

func (g *guarded) Observe(w Window) Decision {
	if g.last.Verdict != nil {
		return g.Tick(w.End)
	}
	if v := g.wd.Observe(w); v != nil {
		d := g.last
		d.At, d.Wake, d.Done, d.Verdict, d.Reason = w.End, time.Time{}, true, v, v.Text
		g.last = d
		return d
	}
	g.last = g.c.Observe(w)
	return g.last
}

func (g *guarded) Tick(now time.Time) Decision {
	if g.last.Verdict != nil {
		d := g.last
		d.At = now
		return d
	}
	g.last = g.c.Tick(now)
	return g.last
}
