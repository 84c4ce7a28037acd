package control

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Program is a parsed control program. The language is zk-locust's
// LOCUST_EXTRA_CONTROL_PROGRAM for users, and the same instructions for rates. One instruction a line, "#" starts a comment, and
// the program loops (as zk-locust's) unless the directive "once" is on a line of its
// own. A program steers users or rates, not both.
//
//	sleep MS                      wait MS milliseconds (or a duration: 5s, 1m30s)
//	poll_initial_hatch_complete MS  wait until the first spawn is complete, checking every MS
//	set_min_num_clients N         bounds of the users (defaults: the initial count, 4 times it)
//	set_max_num_clients N
//	change_num_clients N [RATE]   N users, started or stopped at RATE a second (at once without)
//	ramp_num_clients N DURATION   N users, at the spawn rate that gets there in DURATION; waits for it
//	add_num_clients [<>]X         X more users (fewer if negative); "<>" bounces at the bounds
//	multiply_num_clients [<>]F    F times the users
//	set_min_rate R, set_max_rate R  bounds of the rate (defaults: 0 and no bound)
//	set_rate R                    R operations per second (change_rate R too)
//	ramp_rate R DURATION          from the current rate to R, linearly, over DURATION; waits for it
//	add_rate [<>]X, multiply_rate [<>]F
//
// Without a value, add_* and multiply_* repeat the last one given (as bounced).
//
// zk-locust's bugs, fixed here: change_num_clients ignored its RATE (it used the change
// itself, so a decrease had a rate of 0); poll_initial_hatch_complete raised
// AttributeError; add_num_clients made fractional user counts and multiply_num_clients
// truncated them (1.1 times 5 users stayed 5 forever): counts are rounded here, and a
// factor other than 1 moves at least one user; a "<>" instruction first run between
// the bounds had no direction and did nothing (it takes the value's own here); an
// unknown instruction or a bad number failed in the middle of the test, and a loop
// without sleep hung the master: both are refused before the load starts, with the
// line; so is a minimum above the maximum.
type Program struct {
	Unit  Unit
	Steps []Instruction
	// Once runs the program once (then the test is done) instead of looping.
	Once bool
	// source names the program in errors ("control program", "stages").
	source string
}

// Instruction is one line of a program.
type Instruction struct {
	Line int    // 1-based line of the program text
	Text string // the line, comment removed
	Op   string
	// Value is the instruction's number (N, X, F, R); Given is false when an add or
	// multiply repeats the last value.
	Value float64
	Given bool
	// Bounce is the "<>" prefix.
	Bounce bool
	// Rate is change_num_clients's RATE (users/s; 0: at once).
	Rate float64
	// Duration is a sleep's, a poll's interval, or a ramp's.
	Duration time.Duration
}

// instruction arguments: N a count, R a rate, X a signed number, F a factor above 0,
// D a duration (plain integers are milliseconds), "?" makes the rest optional, "b"
// allows the "<>" prefix on the next.
var instructions = map[string]struct {
	unit Unit
	args string
	any  bool // for users and rates alike
}{
	"sleep":                       {args: "D", any: true},
	"poll_initial_hatch_complete": {args: "D", any: true},
	"set_min_num_clients":         {unit: Users, args: "N"},
	"set_max_num_clients":         {unit: Users, args: "N"},
	"change_num_clients":          {unit: Users, args: "N?R"},
	"ramp_num_clients":            {unit: Users, args: "ND"},
	"add_num_clients":             {unit: Users, args: "?bX"},
	"multiply_num_clients":        {unit: Users, args: "?bF"},
	"set_min_rate":                {unit: Rate, args: "R"},
	"set_max_rate":                {unit: Rate, args: "R"},
	"set_rate":                    {unit: Rate, args: "R"},
	"change_rate":                 {unit: Rate, args: "R"},
	"ramp_rate":                   {unit: Rate, args: "RD"},
	"add_rate":                    {unit: Rate, args: "?bX"},
	"multiply_rate":               {unit: Rate, args: "?bF"},
}

// instructionOrder lists the instructions for errors and help.
var instructionOrder = []string{"sleep", "poll_initial_hatch_complete",
	"set_min_num_clients", "set_max_num_clients", "change_num_clients", "ramp_num_clients", "add_num_clients", "multiply_num_clients",
	"set_min_rate", "set_max_rate", "set_rate", "change_rate", "ramp_rate", "add_rate", "multiply_rate"}

// usageOf shows an instruction with its arguments.
func usageOf(op string) string {
	s, opt := op, false
	for _, a := range instructions[op].args {
		switch a {
		case '?':
			opt = true
			continue
		case 'b':
			s += " [<>]"
			continue
		}
		name := map[rune]string{'N': "N", 'R': "R", 'X': "X", 'F': "F", 'D': "MS"}[a]
		if op == "change_num_clients" && a == 'R' {
			name = "RATE"
		}
		if strings.HasPrefix(op, "ramp_") && a == 'D' {
			name = "DURATION"
		}
		switch {
		case opt && strings.HasSuffix(s, "[<>]"):
			s += name
		case opt:
			s += " [" + name + "]"
		case strings.HasSuffix(s, "[<>]"):
			s += name
		default:
			s += " " + name
		}
	}
	return s
}

// ParseProgram reads a control program. An error names the line and the instruction,
// and says what is expected.
func ParseProgram(text string) (*Program, error) {
	p := &Program{Unit: -1, source: "control program"}
	unitLine := 0
	seen := map[string]bool{} // add/multiply ops given a value so far
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		switch line {
		case "":
			continue
		case "once":
			p.Once = true
			continue
		}
		in, err := parseInstruction(line)
		if err == nil {
			spec := instructions[in.Op]
			switch {
			case !spec.any && p.Unit >= 0 && spec.unit != p.Unit:
				err = fmt.Errorf("a program steers users or rates, not both (line %d steers %s)", unitLine, p.Unit)
			case !spec.any && p.Unit < 0:
				p.Unit, unitLine = spec.unit, n
			}
		}
		if err == nil && !in.Given && strings.Contains(instructions[in.Op].args, "?b") {
			if !seen[in.Op] {
				err = fmt.Errorf("no value to repeat: give one (%s) before or here", usageOf(in.Op))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("control program line %d %q: %w", n, line, err)
		}
		if in.Given {
			seen[in.Op] = true
		}
		in.Line = n
		p.Steps = append(p.Steps, in)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("control program: %w", err)
	}
	if len(p.Steps) == 0 {
		return nil, errors.New(`control program: no instruction (want lines such as "sleep 5000" and "multiply_num_clients <>2")`)
	}
	if p.Unit < 0 {
		p.Unit = Users // only sleeps and polls: zk-locust's programs are in users
	}
	if !p.Once && !p.waits() {
		return nil, errors.New(`control program: it loops without sleep, poll or ramp: add a "sleep MS", or the directive "once"`)
	}
	return p, nil
}

// waits reports whether a pass through the program takes time, so that its loop cannot
// spin.
func (p *Program) waits() bool {
	for _, in := range p.Steps {
		switch in.Op {
		case "sleep", "poll_initial_hatch_complete", "ramp_rate", "ramp_num_clients":
			if in.Duration > 0 {
				return true
			}
		}
	}
	return false
}

func parseInstruction(line string) (Instruction, error) {
	f := strings.Fields(line)
	spec, ok := instructions[f[0]]
	if !ok {
		var all []string
		for _, op := range instructionOrder {
			all = append(all, usageOf(op))
		}
		return Instruction{}, fmt.Errorf("unknown instruction %q; want one of: %s", f[0], strings.Join(all, ", "))
	}
	in := Instruction{Text: line, Op: f[0]}
	args := f[1:]
	optional, bounce := false, false
	for _, a := range spec.args {
		switch a {
		case '?':
			optional = true
			continue
		case 'b':
			bounce = true
			continue
		}
		if len(args) == 0 {
			if optional {
				break
			}
			return Instruction{}, fmt.Errorf("missing argument: want %q", usageOf(in.Op))
		}
		v := args[0]
		args = args[1:]
		if bounce && strings.HasPrefix(v, "<>") {
			in.Bounce, v = true, v[2:]
		}
		x, err := parseArg(a, v)
		if err != nil {
			return Instruction{}, fmt.Errorf("%w (%s)", err, usageOf(in.Op))
		}
		switch {
		case a == 'D':
			in.Duration = time.Duration(x)
		case in.Op == "change_num_clients" && a == 'R':
			in.Rate = x
		default:
			in.Value, in.Given = x, true
		}
	}
	if len(args) > 0 {
		return Instruction{}, fmt.Errorf("unexpected %q: want %q", strings.Join(args, " "), usageOf(in.Op))
	}
	if strings.HasPrefix(in.Op, "ramp_") && in.Duration <= 0 {
		return Instruction{}, fmt.Errorf("a ramp takes time: want a DURATION above 0 (%s)", usageOf(in.Op))
	}
	return in, nil
}

// parseArg reads one argument of kind a; a duration comes back in nanoseconds.
func parseArg(a rune, v string) (float64, error) {
	switch a {
	case 'N':
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: want a number of users, 0 or more", v)
		}
		return float64(n), nil
	case 'R':
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			return 0, fmt.Errorf("%q: want a rate per second, 0 or more", v)
		}
		return r, nil
	case 'X':
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return 0, fmt.Errorf("%q: want a number", v)
		}
		return x, nil
	case 'F':
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x <= 0 || math.IsInf(x, 0) || math.IsNaN(x) {
			return 0, fmt.Errorf("%q: want a factor above 0", v)
		}
		return x, nil
	}
	if ms, err := strconv.Atoi(v); err == nil && ms >= 0 {
		return float64(time.Duration(ms) * time.Millisecond), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want milliseconds or a duration such as 5s", v)
	}
	return float64(d), nil
}

// ParseStages reads a k6-like list of stages, "30s:100,1m:500,30s:0": each ramps
// linearly from where the last one ended to its target over its duration (for users,
// at the spawn rate that does it). The test is done after the last stage.
func ParseStages(text string, unit Unit) (*Program, error) {
	p := &Program{Unit: unit, Once: true, source: "stages"}
	for i, st := range strings.Split(text, ",") {
		st = strings.TrimSpace(st)
		d, target, ok := strings.Cut(st, ":")
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		want := "want DURATION:TARGET such as 30s:100"
		if !ok || err != nil || dur < 0 {
			return nil, fmt.Errorf("stages %q: stage %d %q: %s", text, i+1, st, want)
		}
		kind := 'R'
		op := "ramp_rate"
		if unit == Users {
			kind, op = 'N', "ramp_num_clients"
		}
		v, err := parseArg(kind, strings.TrimSpace(target))
		if err != nil {
			return nil, fmt.Errorf("stages %q: stage %d %q: %w", text, i+1, st, err)
		}
		in := Instruction{Line: i + 1, Text: st, Op: op, Value: v, Given: true, Duration: dur}
		if dur == 0 { // a step: jump to the target at once
			in.Op = map[Unit]string{Users: "change_num_clients", Rate: "set_rate"}[unit]
		}
		p.Steps = append(p.Steps, in)
	}
	return p, nil
}

// Shape runs a program (or stages): a Controller driven by time, not by measurements.
type Shape struct {
	p        *Program
	initial  float64
	value    float64 // the users or rate decided
	min, max float64 // max 0: no maximum
	spawn    float64 // users/s of the last change
	pc       int
	clock    time.Time // the program's own time: when the current instruction began
	wake     time.Time // when the current instruction ends (zero: it does not wait)
	ramp     struct {
		from, to   float64
		start, end time.Time
	}
	ramping   bool
	hatched   bool
	hatchedAt time.Time // the end of the first window with the initial users running
	addend    float64   // the last add's value, as bounced
	factor    float64
	done      bool
	last      Decision
	lastLine  string
	// RampTick is how often a rate ramp wants Tick called (its Wake); default 1s.
	RampTick time.Duration
}

// NewShape prepares a program to run from initial (the users or rate the test starts
// with). For users, the bounds start as zk-locust's: the initial count and 4 times it
// (no maximum when it is 0); for rates, 0 and none. It refuses a program whose bounds conflict (a minimum above the maximum) before
// anything runs, naming the line.
func NewShape(p *Program, initial float64) (*Shape, error) {
	s := &Shape{p: p, initial: initial, value: initial, RampTick: time.Second}
	if p.Unit == Users {
		s.min, s.max = initial, 4*initial
	}
	lo, hi := s.min, s.max
	for _, in := range p.Steps {
		switch in.Op {
		case "set_min_num_clients", "set_min_rate":
			lo = in.Value
		case "set_max_num_clients", "set_max_rate":
			if in.Value == 0 {
				return nil, fmt.Errorf("%s line %d %q: a maximum of 0 stops everything; want one above 0", p.source, in.Line, in.Text)
			}
			hi = in.Value
		default:
			continue
		}
		if hi > 0 && lo > hi {
			return nil, fmt.Errorf("%s line %d %q: minimum %g above maximum %g", p.source, in.Line, in.Text, lo, hi)
		}
	}
	return s, nil
}

// Start runs the program from now until its first wait.
func (s *Shape) Start(now time.Time) Decision {
	s.clock = now
	return s.advance(now)
}

// Observe notes what the window tells (the first spawn completed) and runs the program
// up to the window's end.
func (s *Shape) Observe(w Window) Decision {
	if !s.hatched && (s.p.Unit == Rate || w.Users >= int(s.initial)) {
		s.hatched, s.hatchedAt = true, w.End
	}
	return s.advance(w.End)
}

// Tick runs the program up to now.
func (s *Shape) Tick(now time.Time) Decision { return s.advance(now) }

// advance executes instructions whose time has come, in the program's own time (a
// sleep ends at its start plus its duration, however late it is observed), and returns
// the decision at now.
func (s *Shape) advance(now time.Time) Decision {
	for steps := 0; !s.done; steps++ {
		if !s.wake.IsZero() {
			if now.Before(s.wake) {
				break
			}
			s.clock, s.wake = s.wake, time.Time{}
			if s.ramping {
				s.value, s.ramping = s.ramp.to, false
			}
			// A poll sees the spawn complete at its first check after a window said so.
			if in := s.p.Steps[s.pc]; in.Op == "poll_initial_hatch_complete" && (!s.hatched || s.clock.Before(s.hatchedAt)) {
				s.wake = s.clock.Add(in.Duration)
				continue
			}
			s.next()
			continue
		}
		if steps > 10*len(s.p.Steps)+10 { // cannot happen: ParseProgram refuses a loop that does not wait
			break
		}
		s.exec(s.p.Steps[s.pc])
		if s.wake.IsZero() {
			s.next()
		}
	}
	return s.decide(now)
}

// next moves to the next instruction, looping or ending the program.
func (s *Shape) next() {
	s.pc++
	if s.pc >= len(s.p.Steps) {
		if s.p.Once {
			s.done = true
			s.pc = len(s.p.Steps) - 1
			return
		}
		s.pc = 0
	}
}

// exec runs one instruction at the program's clock; those that take time set wake.
func (s *Shape) exec(in Instruction) {
	s.lastLine = fmt.Sprintf("%s line %d %q", s.p.source, in.Line, in.Text)
	switch in.Op {
	case "sleep":
		s.wake = s.clock.Add(in.Duration)
	case "poll_initial_hatch_complete":
		if !s.hatched || s.clock.Before(s.hatchedAt) {
			s.wake = s.clock.Add(in.Duration)
		}
	case "set_min_num_clients", "set_min_rate":
		s.min = in.Value
		s.set(s.value, 0)
	case "set_max_num_clients", "set_max_rate":
		s.max = in.Value
		s.set(s.value, 0)
	case "change_num_clients":
		s.set(in.Value, in.Rate)
	case "set_rate", "change_rate":
		s.set(in.Value, 0)
	case "ramp_num_clients":
		to := s.clamp(math.Round(in.Value))
		s.set(to, math.Abs(to-s.value)/in.Duration.Seconds())
		s.wake = s.clock.Add(in.Duration)
	case "ramp_rate":
		s.ramp.from, s.ramp.to = s.value, s.clamp(in.Value)
		s.ramp.start, s.ramp.end = s.clock, s.clock.Add(in.Duration)
		s.ramping, s.wake = true, s.ramp.end
	case "add_num_clients", "add_rate":
		s.addend = s.bounced(in, s.addend, func(v float64) bool { return v > 0 }, func(v float64) float64 { return -v })
		s.set(s.value+s.addend, 0)
	case "multiply_num_clients", "multiply_rate":
		s.factor = s.bounced(in, s.factor, func(v float64) bool { return v > 1 }, func(v float64) float64 { return 1 / v })
		v := s.value * s.factor
		if s.p.Unit == Users && s.factor != 1 && math.Round(v) == s.value {
			v += math.Copysign(1, s.factor-1) // 1.1 times 5 users is 6, not 5 forever
		}
		s.set(v, 0)
	}
}

// bounced returns the value an add or multiply applies: its own, or the last one
// when it gives none. With "<>" the direction is the one in force (the last bounce's;
// the value's own the first time), turned back when the value stands at the bound it
// points to (zk-locust's flip at bound).
func (s *Shape) bounced(in Instruction, last float64, up func(float64) bool, reverse func(float64) float64) float64 {
	if !in.Given {
		return last
	}
	v := in.Value
	if !in.Bounce {
		return v
	}
	if last != 0 && up(last) != up(v) {
		v = reverse(v)
	}
	if up(v) && s.max > 0 && s.value >= s.max || !up(v) && s.value <= s.min {
		v = reverse(v)
	}
	return v
}

// set changes the value, within the bounds, and the spawn rate for users.
func (s *Shape) set(v, spawn float64) {
	if s.p.Unit == Users {
		v = math.Round(v)
	}
	s.value, s.spawn = s.clamp(v), spawn
}

func (s *Shape) clamp(v float64) float64 {
	v = math.Max(v, s.min)
	if s.max > 0 {
		v = math.Min(v, s.max)
	}
	return math.Max(v, 0)
}

// decide is the decision at now.
func (s *Shape) decide(now time.Time) Decision {
	d := Decision{At: now, Unit: s.p.Unit, Wake: s.wake, Done: s.done}
	v := s.value
	if s.ramping {
		f := float64(now.Sub(s.ramp.start)) / float64(s.ramp.end.Sub(s.ramp.start))
		v = s.ramp.from + (s.ramp.to-s.ramp.from)*math.Max(0, math.Min(1, f))
		if next := now.Add(s.RampTick); next.Before(s.wake) {
			d.Wake = next
		}
	}
	if s.p.Unit == Users {
		d.Users, d.SpawnRate = int(v), s.spawn
		d.Reason = fmt.Sprintf("%s: %d users", s.lastLine, d.Users)
		if s.spawn > 0 {
			d.Reason += fmt.Sprintf(" at %s/s", num(s.spawn))
		}
	} else {
		d.Rate = v
		d.Reason = fmt.Sprintf("%s: %s/s", s.lastLine, num(v))
	}
	if s.done {
		d.Wake = time.Time{}
		d.Reason += fmt.Sprintf("; the %s ended", s.p.source)
	}
	return d
}
