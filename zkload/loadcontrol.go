package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/control"
	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats"
	"github.com/zkload/zkload/tasks/openloop"
)

const groupControl = "Load control options"

// controlSettings are the load controller's settings (doc/load-control.md).
func controlSettings() []*setting.Spec {
	// Behind a master every setting is also its option (--zkload-seek ... in the
	// generated locustfile and the web UI); a worker's own flag or environment wins.
	specs := []*setting.Spec{
		{Flag: "seek", Option: "zkload_seek", Env: "ZKLOAD_SEEK", Arg: "CONSTRAINTS",
			Help: "find the highest sustained load at which every constraint holds, e.g. 'p99<10ms, errors<1%'; the test ends when found", Expect: "constraints such as p99<10ms, errors<1%"},
		{Flag: "hold", Option: "zkload_hold", Env: "ZKLOAD_HOLD", Arg: "SETPOINT",
			Help: "steer the rate to keep a signal at a setpoint, e.g. p99=10ms or outstanding=100", Expect: "a setpoint such as p99=10ms"},
		{Flag: "shape", Option: "zkload_shape", Env: "ZKLOAD_SHAPE", EnvAliases: []string{"LOCUST_EXTRA_CONTROL_PROGRAM"}, Arg: "PROGRAM",
			Help: "a control program (zk-locust's, and the same for rates), one instruction a line; @FILE reads it from FILE", Expect: "a control program"},
		{Flag: "stages", Option: "zkload_stages", Env: "ZKLOAD_STAGES", Arg: "STAGES",
			Help: "k6-like stages DURATION:TARGET,..., e.g. 30s:1000,1m:5000,30s:0; the test ends after the last", Expect: "stages such as 30s:100,1m:500"},
		{Flag: "control-unit", Option: "zkload_control_unit", Env: "ZKLOAD_CONTROL_UNIT", Default: "rate", Arg: "rate|users",
			Help: "what --seek and --stages vary: the open loop's rate (operations/s) or the number of users (closed loop)", Expect: "rate or users"},
		{Flag: "control-start", Option: "zkload_control_start", Env: "ZKLOAD_CONTROL_START", Arg: "N", Help: "the first level (default: the rate setting, else 100/s or 8 users)", Expect: "a positive number"},
		{Flag: "control-min", Option: "zkload_control_min", Env: "ZKLOAD_CONTROL_MIN", Default: "0", Arg: "N", Help: "the lowest level a controller may set (0: 1)", Expect: "0 or more"},
		{Flag: "control-max", Option: "zkload_control_max", Env: "ZKLOAD_CONTROL_MAX", Default: "0", Arg: "N", Help: "the highest level a controller may set (0: no bound)", Expect: "0 or more"},
		{Flag: "seek-precision", Option: "zkload_seek_precision", Env: "ZKLOAD_SEEK_PRECISION", Default: "0.02", Arg: "FRACTION", Help: "--seek stops when the knee's bracket is this narrow (hi/lo-1)", Expect: "a fraction from 0.001 to 1"},
		{Flag: "seek-retries", Option: "zkload_seek_retries", Env: "ZKLOAD_SEEK_RETRIES", Default: "1", Arg: "N", Help: "--seek holds a failed level this many times more before the failure counts", Expect: "0 to 10"},
		{Flag: "hold-kp", Option: "zkload_hold_kp", Env: "ZKLOAD_HOLD_KP", Default: "1", Arg: "GAIN", Help: "--hold's proportional gain", Expect: "0 or more"},
		{Flag: "hold-ki", Option: "zkload_hold_ki", Env: "ZKLOAD_HOLD_KI", Default: "0.3", Arg: "GAIN", Help: "--hold's integral gain", Expect: "0 or more"},
		{Flag: "hold-kd", Option: "zkload_hold_kd", Env: "ZKLOAD_HOLD_KD", Default: "0", Arg: "GAIN", Help: "--hold's derivative gain", Expect: "0 or more"},
		{Flag: "watchdog", Option: "zkload_watchdog", Env: "ZKLOAD_WATCHDOG", Arg: "RULES",
			Help: "stop the test (exit code 3) when a rule holds, e.g. 'errors>5% for 30s, p99>1s for 1m, quorum lost for 10s'", Expect: "rules such as errors>5% for 30s"},
	}
	return specs
}

// controlOptions are the load controller of a run: at most one mode (seek, hold, shape
// or stages) and an optional watchdog in front of it.
type controlOptions struct {
	mode  string // "seek", "hold", "shape", "stages"; "" with a watchdog alone
	spec  string // the mode's text as given
	unit  control.Unit
	start float64
	// build makes the controller, at the start of the test (a controller keeps state).
	build func() (control.Controller, error)
	rules []control.Rule
	wdog  string // the rules' text
	// ensemble names the first setting that reads an ensemble signal ("" none): it
	// needs the metrics poll.
	ensemble string
	csv      string // the per-window CSV ("" none)
	steps    string // the seek's steps CSV ("" none)
}

// on reports whether anything steers or watches the load.
func (o *controlOptions) on() bool { return o.mode != "" || len(o.rules) > 0 }

// rate reports whether the controller steers the open loop's rate.
func (o *controlOptions) rate() bool { return o.mode != "" && o.unit == control.Rate }

// parse reads the load-control settings (get resolves one: a command's flags, or a
// worker's flags over its master's options). Every error is one line naming the
// setting, for the command to report before anything runs.
func (o *controlOptions) parse(get func(name string) setting.Value, reportDir string) error {
	var given []setting.Value
	for _, f := range []string{"seek", "hold", "shape", "stages"} {
		if v := get(f); strings.TrimSpace(v.Text) != "" {
			given = append(given, v)
		}
	}
	if len(given) > 1 {
		return fmt.Errorf("%s and %s: want one way to control the load", given[0].Name(), given[1].Name())
	}
	switch u := get("control-unit"); strings.TrimSpace(u.Text) {
	case "rate", "":
		o.unit = control.Rate
	case "users":
		o.unit = control.Users
	default:
		return u.Bad()
	}
	num := func(name string, lo, hi float64) (float64, error) {
		v := get(name)
		if strings.TrimSpace(v.Text) == "" {
			return 0, nil
		}
		f, err := v.Float(lo, hi)
		if err != nil {
			return 0, err
		}
		return f, nil
	}
	var err error
	if o.start, err = num("control-start", 1e-9, 1e9); err != nil {
		return err
	}
	lo, err := num("control-min", 0, 1e9)
	if err != nil {
		return err
	}
	hi, err := num("control-max", 0, 1e9)
	if err != nil {
		return err
	}
	if hi > 0 && lo > hi {
		return fmt.Errorf("--control-min %g is above --control-max %g", lo, hi)
	}
	if w := get("watchdog"); strings.TrimSpace(w.Text) != "" {
		if o.rules, err = control.ParseRules(w.Text); err != nil {
			return fmt.Errorf("%s: %v", w.Name(), err)
		}
		for _, r := range o.rules {
			if r.Condition.Signal.Ensemble() && o.ensemble == "" {
				o.ensemble = fmt.Sprintf("%s %q", w.Name(), r.Text)
			}
		}
		o.wdog = w.Text
	}
	if len(given) == 0 {
		for _, f := range []string{"control-start", "control-min", "control-max", "seek-precision", "seek-retries", "hold-kp", "hold-ki", "hold-kd", "control-unit"} {
			if v := get(f); v.Given() {
				return fmt.Errorf("%s is set but no controller runs: set --seek, --hold, --shape or --stages", v.Name())
			}
		}
		if o.on() {
			o.mode = ""
			o.csvPaths(reportDir)
		}
		return nil
	}
	v := given[0]
	o.mode, o.spec = v.Spec.Flag, strings.TrimSpace(v.Text)
	if o.start == 0 {
		// The user's own rate setting is where a rate controller starts.
		for _, f := range []string{"rate", "http-rate"} {
			if r, err := get(f).Float(0, 1e9); err == nil && r > 0 && o.unit == control.Rate {
				o.start = r
			}
		}
	}
	switch o.mode {
	case "seek":
		cs, err := control.ParseConstraints(o.spec)
		if err != nil {
			return fmt.Errorf("%s: %v", v.Name(), err)
		}
		for _, c := range cs {
			if c.Signal.Ensemble() && o.ensemble == "" {
				o.ensemble = fmt.Sprintf("%s %q", v.Name(), c.Text)
			}
		}
		prec, err := num("seek-precision", 0.001, 1)
		if err != nil {
			return err
		}
		retries, err := get("seek-retries").Int(0, 10)
		if err != nil {
			return err
		}
		if retries == 0 {
			retries = control.NoRetry
		}
		cfg := control.SeekConfig{Unit: o.unit, Constraints: cs, Start: o.start, Min: lo, Max: hi, Precision: prec, Retries: retries}
		if _, err := control.NewSeek(cfg); err != nil {
			return fmt.Errorf("%s: %v", v.Name(), err)
		}
		o.build = func() (control.Controller, error) { return control.NewSeek(cfg) }
	case "hold":
		if o.unit == control.Users {
			return fmt.Errorf("--hold steers the rate: --control-unit users is for --seek and --stages")
		}
		sp, err := control.ParseSetpoint(o.spec)
		if err != nil {
			return fmt.Errorf("%s: %v", v.Name(), err)
		}
		if sp.Signal.Ensemble() {
			o.ensemble = fmt.Sprintf("%s %q", v.Name(), sp.Text)
		}
		var g [3]float64
		for i, f := range []string{"hold-kp", "hold-ki", "hold-kd"} {
			if g[i], err = num(f, 0, 1e6); err != nil {
				return err
			}
		}
		cfg := control.HoldConfig{Setpoint: sp, Start: o.start, Min: lo, Max: hi, Kp: g[0], Ki: g[1], Kd: g[2]}
		if _, err := control.NewHold(cfg); err != nil {
			return fmt.Errorf("%s: %v", v.Name(), err)
		}
		o.build = func() (control.Controller, error) { return control.NewHold(cfg) }
	case "shape", "stages":
		text := o.spec
		var p *control.Program
		if o.mode == "shape" {
			if file, ok := strings.CutPrefix(text, "@"); ok {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("%s: %v", v.Name(), err)
				}
				text = string(b)
			}
			p, err = control.ParseProgram(text)
		} else {
			p, err = control.ParseStages(text, o.unit)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", v.Name(), err)
		}
		o.unit = p.Unit
		start := o.start
		if _, err := control.NewShape(p, start); err != nil {
			return fmt.Errorf("%s: %v", v.Name(), err)
		}
		o.build = func() (control.Controller, error) { return control.NewShape(p, start) }
	}
	if o.unit == control.Rate && o.start == 0 {
		o.start = 100 // the controllers' own default first rate
	}
	o.csvPaths(reportDir)
	return nil
}

func (o *controlOptions) csvPaths(reportDir string) {
	if reportDir == "" {
		return
	}
	o.csv = filepath.Join(reportDir, rundir.Name(rundir.Control, "", ""))
	if o.mode == "seek" {
		o.steps = filepath.Join(reportDir, rundir.Name(rundir.Capacity, "", ""))
	}
}

// controlLoop drives one controller over a test: windows in, decisions applied to the
// open loop's plan (rate) or to the users (ramps), until the controller is done or the
// test ends. One goroutine runs it.
type controlLoop struct {
	o     *controlOptions
	log   *slog.Logger
	ctrl  control.Controller // nil: a watchdog alone
	wd    *control.Watchdog
	plan  *openloop.Shared
	ramps chan boomer.Ramp
	// end stops the test; its cause is the reason, for the log.
	end context.CancelCauseFunc
	// send, if set, carries decisions to a Locust master's relay (the fleet's
	// controller) instead of applying them to this process's plan and users.
	send func(control.Decision)

	windows chan control.Window
	signals func() map[string]float64

	mu      sync.Mutex // guards the fields below, read by result after the loop
	last    control.Decision
	verdict *control.Verdict
	done    bool

	lagWarned bool          // checkLag said it (the loop's goroutine only)
	minMean   time.Duration // the lowest mean latency of a window so far (checkLag)

	out      *os.File
	w        *csv.Writer
	stopped  chan struct{}
	lastPlan openloop.Counts
}

// newControlLoop makes the loop of a test; plan is the users' open-loop plan, signals
// the ensemble's latest (nil: none). It does not start it.
func newControlLoop(o *controlOptions, plan *openloop.Shared, signals func() map[string]float64, log *slog.Logger) (*controlLoop, error) {
	l := &controlLoop{o: o, log: log, plan: plan, signals: signals, ramps: make(chan boomer.Ramp, 1),
		windows: make(chan control.Window, 8), stopped: make(chan struct{})}
	if o.build != nil {
		c, err := o.build()
		if err != nil {
			return nil, err
		}
		l.ctrl = c
	}
	if len(o.rules) > 0 {
		l.wd = control.NewWatchdog(o.rules)
	}
	if o.csv != "" {
		f, err := os.Create(o.csv)
		if err != nil {
			return nil, fmt.Errorf("load control CSV: %w", err)
		}
		l.out, l.w = f, csv.NewWriter(f)
		l.w.UseCRLF = true // as Locust's CSVs and the project's others
		l.w.Write([]string{"Time", "Mode", "Unit", "Offered", "Achieved", "Users", "Requests", "Failures", "Error Rate",
			"p50 (ms)", "p99 (ms)", "p99.9 (ms)", "Lag (ms)", "Decided Rate", "Decided Users", "Reason"})
		l.w.Flush()
	}
	return l, nil
}

// onWindow is the extended statistics' window hook: it turns the collector's window
// into the controller's (all names merged, values apart) and hands it to the loop
// without blocking the collector.
func (l *controlLoop) onWindow(sw stats.Window) {
	w := control.Window{End: sw.End, Width: sw.End.Sub(sw.Start), Users: sw.Users}
	if t := sw.Entries[stats.TotalKey]; t != nil && t.Requests > 0 {
		w.Summary = t.Clone()
	}
	for k, s := range sw.Entries {
		if k.Method == openloop.ScheduleLag && s.Requests > 0 {
			w.Lag = max(w.Lag, time.Duration(s.MaxNanos))
		}
	}
	if p := l.pacer(); p != nil {
		c := p.Counts()
		if w.Width > 0 {
			w.Offered = float64(c.Planned-l.lastPlan.Planned) / w.Width.Seconds()
		}
		l.lastPlan = c
	}
	if l.signals != nil {
		w.Signals = l.signals()
	}
	select {
	case l.windows <- w:
	default:
		l.log.Warn("load control: a window was dropped (the controller is behind)")
	}
}

// run drives the controller until ctx ends (the test's end) or the controller is done.
func (l *controlLoop) run(ctx context.Context) {
	defer close(l.stopped)
	now := time.Now()
	var wake *time.Timer
	apply := func(d control.Decision) {
		l.apply(d)
		if wake != nil {
			wake.Stop()
			wake = nil
		}
		if !d.Wake.IsZero() {
			wake = time.NewTimer(time.Until(d.Wake))
		}
	}
	if l.ctrl != nil {
		apply(l.ctrl.Start(now))
	}
	defer func() {
		if wake != nil {
			wake.Stop()
		}
	}()
	for !l.isDone() {
		var wakeC <-chan time.Time
		if wake != nil {
			wakeC = wake.C
		}
		select {
		case <-ctx.Done():
			return
		case w := <-l.windows:
			l.checkLag(w)
			if l.wd != nil {
				if v := l.wd.Observe(w); v != nil {
					l.row(w, l.last)
					d := l.last
					d.At, d.Verdict, d.Done, d.Reason = w.End, v, true, v.Text
					l.apply(d)
					return
				}
			}
			d := l.last
			if l.ctrl != nil {
				wake = nil
				d = l.ctrl.Observe(w)
				apply(d)
			}
			l.row(w, d)
		case t := <-wakeC:
			wake = nil
			apply(l.ctrl.Tick(t))
		}
	}
}

// apply puts a decision into effect: the plan's rate or the users' count, and ends the
// test when the controller is done.
func (l *controlLoop) apply(d control.Decision) {
	l.mu.Lock()
	prev := l.last
	l.last = d
	l.mu.Unlock()
	if d.Verdict != nil {
		l.mu.Lock()
		l.verdict, l.done = d.Verdict, true
		l.mu.Unlock()
		l.log.Error(d.Verdict.Text)
		if l.send != nil {
			l.send(d)
		}
		l.end(errors.New(d.Verdict.Text))
		return
	}
	if l.send != nil {
		// Behind a master: the decision goes to its relay, which sets every worker's
		// share of the rate, or the users, or stops the test; only a change goes (the
		// master would respawn, and say so, at every window).
		if prev.At.IsZero() || d.Rate != prev.Rate || d.Users != prev.Users || d.Unit != prev.Unit || d.Done {
			l.send(d)
		}
		if d.Rate != prev.Rate || d.Users != prev.Users || d.Reason != prev.Reason {
			l.log.Info("load control (fleet)", "unit", d.Unit.String(), "rate", strconv.FormatFloat(d.Rate, 'f', 1, 64), "users", d.Users, "reason", d.Reason)
		}
		if d.Done {
			l.mu.Lock()
			l.done = true
			l.mu.Unlock()
			l.log.Info("load control: done, stopping the test", "reason", d.Reason)
			l.end(fmt.Errorf("load control: %s", d.Reason))
		}
		return
	}
	switch d.Unit {
	case control.Rate:
		if p := l.pacer(); p != nil && d.Rate >= 0 && d.Rate != p.Rate() {
			if err := p.SetRate(d.Rate); err != nil {
				l.log.Error("load control: setting the rate", "rate", d.Rate, "err", err)
			}
		}
		if d.Rate != prev.Rate || d.Reason != prev.Reason {
			l.log.Info("load control", "rate", strconv.FormatFloat(d.Rate, 'f', 1, 64), "reason", d.Reason)
		}
	case control.Users:
		if d.Users != prev.Users || prev.At.IsZero() {
			select {
			case l.ramps <- boomer.Ramp{Users: d.Users, SpawnRate: d.SpawnRate}:
			default: // the runner has not taken the last one: replace it
				select {
				case <-l.ramps:
				default:
				}
				l.ramps <- boomer.Ramp{Users: d.Users, SpawnRate: d.SpawnRate}
			}
			l.log.Info("load control", "users", d.Users, "spawn_rate", d.SpawnRate, "reason", d.Reason)
		}
	}
	if d.Done {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
		l.log.Info("load control: done, stopping the test", "reason", d.Reason)
		l.end(fmt.Errorf("load control: %s", d.Reason))
	}
}

// lateWarn is the schedule lag past which the load generator, not the target, may be
// what limits an open loop: every user was busy for that long.
const lateWarn = 250 * time.Millisecond

// checkLag says once, when the open loop starts operations well behind its plan, that
// the users may be the limit: a capacity found then is the users' as much as the
// target's.
func (l *controlLoop) checkLag(w control.Window) {
	if l.o.unit != control.Rate || l.lagWarned || w.Requests() == 0 || w.Users == 0 {
		return
	}
	mean := time.Duration(w.Summary.SumNanos / w.Summary.Requests)
	if l.minMean == 0 || mean < l.minMean {
		l.minMean = mean
	}
	// Little's law: the users complete at most users/mean-latency a second. An
	// overloaded target makes them all busy too, but its latency grows: that is the
	// target's limit. Late starts at the target's usual latency are the users'.
	if w.Lag < lateWarn || mean <= 0 || mean > 2*l.minMean || w.Offered < 0.9*float64(w.Users)/mean.Seconds() {
		return
	}
	l.lagWarned = true
	l.log.Warn("load control: every user was busy and planned starts were taken late (the open loop's schedule lag): the users, not the target, may be what limits the rate; run more users (-u)",
		"lag", w.Lag.Round(time.Millisecond), "users", w.Users, "offered", strconv.FormatFloat(w.Offered, 'f', 1, 64))
}

// pacer is the users' open-loop plan, nil until a user joined it (or in a closed loop).
func (l *controlLoop) pacer() *openloop.Pacer {
	if l.plan == nil {
		return nil
	}
	return l.plan.Pacer()
}

func (l *controlLoop) isDone() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

// row appends the window and the decision in force after it to the CSV.
func (l *controlLoop) row(w control.Window, d control.Decision) {
	if l.w == nil {
		return
	}
	ms := func(p float64) string {
		v, ok := w.Percentile(p)
		if !ok {
			return ""
		}
		return strconv.FormatFloat(float64(v)/1e6, 'f', 3, 64)
	}
	errRate := ""
	if e, ok := w.ErrorRate(); ok {
		errRate = strconv.FormatFloat(e, 'f', 4, 64)
	}
	var fails int64
	if w.Summary != nil {
		fails = w.Summary.Failures
	}
	rate, users := "", ""
	if d.Unit == control.Rate && !d.At.IsZero() {
		rate = strconv.FormatFloat(d.Rate, 'f', 1, 64)
	}
	if d.Unit == control.Users && !d.At.IsZero() {
		users = strconv.Itoa(d.Users)
	}
	mode := l.o.mode
	if mode == "" {
		mode = "watchdog"
	}
	l.w.Write([]string{w.End.UTC().Format("2006-01-02T15:04:05.000Z"), mode, l.o.unit.String(),
		strconv.FormatFloat(w.Offered, 'f', 1, 64), strconv.FormatFloat(w.Achieved(), 'f', 1, 64), strconv.Itoa(w.Users),
		strconv.FormatInt(w.Requests(), 10), strconv.FormatInt(fails, 10), errRate, ms(50), ms(99), ms(99.9),
		strconv.FormatFloat(float64(w.Lag)/1e6, 'f', 3, 64), rate, users, oneLine(d.Reason)})
	l.w.Flush() // a killed run keeps every window written
}

// close waits for the loop and closes its files.
func (l *controlLoop) close() error {
	<-l.stopped
	var err error
	if l.out != nil {
		l.w.Flush()
		err = errors.Join(l.w.Error(), l.out.Close())
	}
	if s, ok := l.ctrl.(*control.Seek); ok && l.o.steps != "" {
		err = errors.Join(err, writeSeekSteps(l.o.steps, s.Result()))
	}
	if err != nil {
		return fmt.Errorf("load control: %w", err)
	}
	return nil
}

// verdictOf is the watchdog's verdict, nil if it did not stop the test.
func (l *controlLoop) verdictOf() *control.Verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.verdict
}

// result is what run.json keeps of the controller.
func (l *controlLoop) result() *rundir.ControlResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	mode, spec := l.o.mode, l.o.spec
	if mode == "" {
		mode, spec = "watchdog", l.o.wdog
	}
	r := &rundir.ControlResult{Mode: mode, Unit: l.o.unit.String(), Spec: spec, Done: l.done, Reason: l.last.Reason}
	if s, ok := l.ctrl.(*control.Seek); ok {
		res := s.Result()
		r.Capacity, r.Lo, r.Hi, r.Precision, r.Achieved, r.Done = res.Capacity, res.Lo, res.Hi, res.Precision, res.Achieved, res.Done
		if res.Reason != "" {
			r.Reason = res.Reason
		}
	}
	if l.verdict != nil {
		r.Verdict = l.verdict.Text
	}
	return r
}

// summary writes what the controller found, for the console after Locust's tables.
func (l *controlLoop) summary(w io.Writer) {
	r := l.result()
	switch {
	case r.Mode == "seek":
		unit := map[string]string{"rate": "operations/s", "users": "users"}[r.Unit]
		fmt.Fprintf(w, "\nCapacity at %s: ", r.Spec)
		switch {
		case r.Capacity == 0:
			fmt.Fprintf(w, "none: no level passed (%s)\n", r.Reason)
		case r.Hi == 0:
			fmt.Fprintf(w, "at least %s %s (no level failed; %s)\n", fmtLevel(r.Capacity), unit, r.Reason)
		default:
			fmt.Fprintf(w, "%s %s (achieved %s/s; the knee between %s and %s, ±%.1f%%)%s\n", fmtLevel(r.Capacity), unit,
				fmtLevel(r.Achieved), fmtLevel(r.Lo), fmtLevel(r.Hi), 100*r.Precision/2, map[bool]string{true: "", false: "; the search did not finish: " + r.Reason}[r.Done])
		}
	case r.Mode != "watchdog":
		fmt.Fprintf(w, "\nLoad control (%s %s): %s\n", r.Mode, r.Spec, r.Reason)
	}
	if r.Verdict != "" {
		fmt.Fprintf(w, "\nWatchdog: %s\n", r.Verdict)
	}
}

func fmtLevel(v float64) string {
	if v >= 100 || v == math.Trunc(v) {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// writeSeekSteps writes a seek's steps (capacity.csv): one row per level held, sorted
// by level, the knee marked.
func writeSeekSteps(path string, r control.SeekResult) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.UseCRLF = true
	w.Write([]string{"Level", "Unit", "Offered", "Achieved", "p50 (ms)", "p99 (ms)", "p99.9 (ms)", "Error Rate", "Pass", "Steady", "Knee", "How", "Why"})
	knee := -1.0
	if r.Knee >= 0 && r.Knee < len(r.Steps) {
		knee = r.Steps[r.Knee].Level
	}
	for _, s := range r.Curve() {
		w.Write([]string{strconv.FormatFloat(s.Level, 'f', 1, 64), r.Unit.String(), strconv.FormatFloat(s.Offered, 'f', 1, 64),
			strconv.FormatFloat(s.Achieved, 'f', 1, 64), msOf(s.P50), msOf(s.P99), msOf(s.P999),
			strconv.FormatFloat(s.ErrorRate, 'f', 4, 64), strconv.FormatBool(s.Pass), strconv.FormatBool(s.Steady),
			strconv.FormatBool(s.Level == knee), s.How, oneLine(s.Reason)})
	}
	w.Flush()
	return errors.Join(w.Error(), f.Close())
}

// oneLine keeps a controller's reason on one line of its CSV.
func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

func msOf(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 3, 64) }

// ensembleSignals reads the controller's ensemble signals from the metrics poll's
// latest samples: outstanding (requests queued, summed over the members), quorum (1
// while a leader serves with a majority of members up, else 0), latency_ms (the
// members' highest avg_latency), connections (summed) and members_up.
func ensembleSignals(mp *metricsPoll) func() map[string]float64 {
	if mp == nil {
		return nil
	}
	return func() map[string]float64 {
		p := mp.last.Load()
		if p == nil {
			return nil
		}
		out := map[string]float64{}
		up, leader := 0, false
		for _, s := range *p {
			if s.Err != nil {
				continue
			}
			up++
			if s.State == "leader" || s.State == "standalone" {
				leader = true
			}
			for _, m := range s.Metrics {
				v, err := strconv.ParseFloat(m.Value, 64)
				if err != nil {
					continue
				}
				switch m.Name {
				case "outstanding_requests":
					out["outstanding"] += v
				case "avg_latency":
					out["latency_ms"] = max(out["latency_ms"], v)
				case "num_alive_connections":
					out["connections"] += v
				}
			}
		}
		out["members_up"] = float64(up)
		out["quorum"] = 0
		if leader && up > len(*p)/2 {
			out["quorum"] = 1
		}
		return out
	}
}
