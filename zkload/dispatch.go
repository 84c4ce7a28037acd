package main

// The fault dispatcher of a run: zk-locust's ZK_DISPATCH_* settings, checked before
// the run starts, and the dispatcher started beside the users (see doc/faults.md).

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/connstr"
	"github.com/zkload/zkload/faults"
	"github.com/zkload/zkload/fleet"
	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
)

const groupFaults = "Fault options"

func dispatchSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "dispatch-program", Env: "ZK_DISPATCH_PROGRAM", Arg: "PROGRAM",
			Help: "fault program, one instruction a line (doc/faults.md); @FILE reads it from FILE", Expect: "a fault program"},
		{Flag: "dispatch-random", Env: "ZK_DISPATCH_RANDOM", Default: "false", Bool: true,
			Help: "run zk-locust's random dispatcher (its sleeps: --dispatch-config)", Expect: "true or false"},
		{Flag: "dispatch-config", Env: "ZK_DISPATCH_CONFIG", Arg: "JSON",
			Help:   `the random dispatcher's sleeps: {"sleep_ms": 5000, "sleep_after_disable_ms": 2000, "sleep_after_enable_ms": 5000}`,
			Expect: `a JSON object with sleep_ms, sleep_after_disable_ms and sleep_after_enable_ms`},
		{Flag: "dispatch-control", Env: "ZK_DISPATCH_CONTROL", Arg: "URL|DIR",
			Help: "a local ensemble's control: the URL `zkload ensemble` prints, or its --dir"},
		{Flag: "dispatch-disable-script", Env: "ZK_DISPATCH_DISABLE_SCRIPT", Arg: "COMMAND",
			Help: "shell command that disables the member in ZK_MEMBER_HOST_AND_PORT (any ensemble)"},
		{Flag: "dispatch-enable-script", Env: "ZK_DISPATCH_ENABLE_SCRIPT", Arg: "COMMAND", Help: "shell command that enables it again"},
		{Flag: "dispatch-pause-script", Env: "ZK_DISPATCH_PAUSE_SCRIPT", Arg: "COMMAND", Help: "shell command that pauses it (for pause)"},
		{Flag: "dispatch-resume-script", Env: "ZK_DISPATCH_RESUME_SCRIPT", Arg: "COMMAND", Help: "shell command that resumes it"},
		{Flag: "dispatch-partition-script", Env: "ZK_DISPATCH_PARTITION_SCRIPT", Arg: "COMMAND",
			Help: "shell command that cuts it off from the other members (for partition)"},
		{Flag: "dispatch-heal-script", Env: "ZK_DISPATCH_HEAL_SCRIPT", Arg: "COMMAND", Help: "shell command that ends its partition"},
		{Flag: "dispatch-csv", Arg: "FILE", Help: "faults timeline CSV (default with --report-dir: DIR/faults.csv)"},
		{Flag: "dispatch-write-probe", Env: "ZK_DISPATCH_WRITE_PROBE", Default: "true", Bool: true, Expect: "true or false",
			Help: "time each fault's first successful write with a session of the dispatcher's own (node /zkload-probe-N)"},
	}
}

// dispatchOptions is the run's fault dispatcher; zero (no program, not random): none.
type dispatchOptions struct {
	program *faults.Program
	random  bool
	config  faults.RandomConfig
	control string // the control URL
	scripts *faults.Scripts
	servers []string // the ensemble's members, from its connect string
	csv     string
	probe   bool // the write probe
}

// on reports whether a dispatcher runs.
func (o *dispatchOptions) on() bool { return o.program != nil || o.random }

// parse reads the fault settings; zkHosts is the ensemble (its connect string). Every
// error names the setting and comes before anything runs.
func (o *dispatchOptions) parse(fs *flagSet, zkHosts, reportDir string) error {
	prog := fs.get("dispatch-program")
	var err error
	if o.random, err = fs.get("dispatch-random").Bool(); err != nil {
		return fs.check(err)
	}
	if prog.Text == "" && !o.random {
		for _, f := range []string{"dispatch-config", "dispatch-control", "dispatch-disable-script", "dispatch-enable-script",
			"dispatch-pause-script", "dispatch-resume-script", "dispatch-partition-script", "dispatch-heal-script", "dispatch-csv"} {
			if v := fs.get(f); v.Given() {
				return fs.fail("%s is set but no fault program runs: set --dispatch-program or --dispatch-random", v.Name())
			}
		}
		return nil
	}
	if prog.Text != "" && o.random {
		return fs.fail("--dispatch-program and --dispatch-random: want one of them")
	}
	if zkHosts == "" {
		return fs.fail("%s: no ensemble to disrupt; set --hosts", map[bool]string{true: "--dispatch-random", false: prog.Name()}[o.random])
	}
	if o.servers, _, err = connstr.Parse(zkHosts); err != nil {
		return fs.fail("--hosts %q: %v", zkHosts, err)
	}
	if prog.Text != "" {
		text := prog.Text
		if file, ok := strings.CutPrefix(text, "@"); ok {
			b, err := os.ReadFile(file)
			if err != nil {
				return fs.fail("%s: %v", prog.Name(), err)
			}
			text = string(b)
		}
		if o.program, err = faults.ParseProgram(text, len(o.servers)); err != nil {
			return fs.fail("%s: %v", prog.Name(), err)
		}
	}
	o.config = faults.DefaultRandomConfig()
	if c := fs.get("dispatch-config"); c.Text != "" {
		if err := parseDispatchConfig(c.Text, &o.config); err != nil {
			return fs.check(c.Errorf("%v", err))
		}
	}
	control, disable := fs.get("dispatch-control"), fs.get("dispatch-disable-script")
	switch {
	case control.Text != "" && disable.Text != "":
		return fs.fail("%s and %s: want one way to disable members", control.Name(), disable.Name())
	case control.Text != "":
		if o.control, err = controlURL(control.Text); err != nil {
			return fs.check(control.Errorf("%v", err))
		}
	case disable.Text != "":
		o.scripts = &faults.Scripts{Members: o.servers, DisableScript: disable.Text, EnableScript: fs.text("dispatch-enable-script"),
			PauseScript: fs.text("dispatch-pause-script"), ResumeScript: fs.text("dispatch-resume-script"),
			PartitionScript: fs.text("dispatch-partition-script"), HealScript: fs.text("dispatch-heal-script")}
		if o.scripts.EnableScript == "" {
			return fs.fail("--dispatch-disable-script needs --dispatch-enable-script: a disabled member must come back")
		}
		if o.program != nil {
			if err := o.program.Check(context.Background(), o.scripts); err != nil {
				return fs.fail("%s: %v", prog.Name(), err)
			}
		}
	default:
		return fs.fail("a fault program needs a way to disable members: --dispatch-control (a local ensemble) or --dispatch-disable-script and --dispatch-enable-script")
	}
	if o.probe, err = fs.get("dispatch-write-probe").Bool(); err != nil {
		return fs.check(err)
	}
	o.csv = fs.text("dispatch-csv")
	if o.csv == "" && reportDir != "" {
		o.csv = filepath.Join(reportDir, rundir.Name(rundir.Faults, "", ""))
	}
	return nil
}

// parseDispatchConfig reads zk-locust's ZK_DISPATCH_CONFIG keys into c.
func parseDispatchConfig(text string, c *faults.RandomConfig) error {
	var m map[string]float64
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return fmt.Errorf("want a JSON object of milliseconds: %v", err)
	}
	for k, v := range m {
		if v < 0 {
			return fmt.Errorf("%s %v: want milliseconds, 0 or more", k, v)
		}
		d := time.Duration(v * float64(time.Millisecond))
		switch k {
		case "sleep_ms":
			c.Sleep = d
		case "sleep_after_disable_ms":
			c.SleepAfterDisable = d
		case "sleep_after_enable_ms":
			c.SleepAfterEnable = d
		default:
			return fmt.Errorf("unknown key %q; want sleep_ms, sleep_after_disable_ms or sleep_after_enable_ms", k)
		}
	}
	return nil
}

// controlURL accepts a control URL, or an ensemble directory holding control.url.
func controlURL(v string) (string, error) {
	if strings.HasPrefix(v, "http://") {
		return v, nil
	}
	b, err := os.ReadFile(filepath.Join(v, ControlFile))
	if err != nil {
		return "", fmt.Errorf("want the control URL that zkload ensemble prints, or its --dir: %v", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// dispatch is a running dispatcher.
type dispatch struct {
	cancel   context.CancelFunc
	done     chan struct{}
	file     *os.File
	timeline *faults.Timeline
	probe    *faults.Probe
}

// startDispatch starts the run's dispatcher; spawned is closed when the initial spawn
// completes; report, if not nil, is called with each action besides the timeline (a
// worker sends it to the master's zkload page). It returns nil when no dispatcher runs. An error (the control cannot be
// reached, its members are not the ensemble's, the CSV cannot be created) comes before
// the users start.
func startDispatch(o *dispatchOptions, spawned <-chan struct{}, report func(faults.Action), log *slog.Logger) (*dispatch, error) {
	if !o.on() {
		return nil, nil
	}
	var members faults.Members = o.scripts
	if o.control != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := faults.Dial(ctx, o.control)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("--dispatch-control: %w", err)
		}
		if !slices.Equal(sorted(c.Addrs()), sorted(o.servers)) {
			return nil, fmt.Errorf("--dispatch-control %s runs %s, not the ensemble %s", o.control, strings.Join(c.Addrs(), ","), strings.Join(o.servers, ","))
		}
		if o.program != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := o.program.Check(ctx, c)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("--dispatch-program: %w", err)
			}
		}
		members = c
	}
	d := &dispatch{done: make(chan struct{})}
	var onAction func(faults.Action)
	if o.csv != "" {
		// Appended to: a worker's next test continues the timeline.
		f, err := os.OpenFile(o.csv, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("--dispatch-csv: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("--dispatch-csv: %w", err)
		}
		if d.timeline, err = faults.NewTimeline(f, st.Size() > 0); err != nil {
			f.Close()
			return nil, fmt.Errorf("--dispatch-csv: %w", err)
		}
		d.file, onAction = f, d.timeline.Add
	}
	if report != nil {
		if add := onAction; add != nil {
			onAction = func(a faults.Action) {
				add(a)
				report(a)
			}
		} else {
			onAction = report
		}
	}
	if o.probe {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p, err := faults.NewProbe(ctx, o.servers, log)
		cancel()
		if err != nil {
			log.Warn("faults: no first-write times (--dispatch-write-probe false hides this)", "err", err)
		}
		d.probe = p
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	fd := &faults.Dispatcher{Members: members, Program: o.program, Random: o.config, SpawnComplete: spawned,
		OnAction: onAction, Log: log, Probe: d.probe}
	what := "random dispatcher"
	if o.program != nil {
		what = fmt.Sprintf("fault program of %d instructions", len(o.program.Steps))
	}
	log.Info("faults: "+what, "members", len(o.servers), "quorum", faults.Quorum(len(o.servers)), "timeline", o.csv)
	go func() {
		defer close(d.done)
		if err := fd.Run(ctx); err != nil {
			log.Error("faults", "err", err)
		}
	}()
	return d, nil
}

// workerDispatch runs the fault dispatcher of a worker: only the worker the master
// numbered 0 runs it, one per test, so that a test has one dispatcher and one timeline
// however many workers share the options.
type workerDispatch struct {
	o   *dispatchOptions
	log *slog.Logger
	// send sends a custom message to the master (the worker's Send; called during a
	// test only, when the worker runs).
	send   func(typ string, data any) error
	events chan boomer.TestEvent
	done   chan struct{}
}

func newWorkerDispatch(o *dispatchOptions, send func(typ string, data any) error, log *slog.Logger) *workerDispatch {
	wd := &workerDispatch{o: o, send: send, log: log, events: make(chan boomer.TestEvent, 64), done: make(chan struct{})}
	go wd.loop()
	return wd
}

// onTest is the worker's OnTest: it never blocks the worker.
func (wd *workerDispatch) onTest(e boomer.TestEvent) {
	select {
	case wd.events <- e:
	default:
		wd.log.Warn("faults: a test event was dropped", "event", e.Kind)
	}
}

func (wd *workerDispatch) loop() {
	defer close(wd.done)
	var d *dispatch
	var spawned chan struct{}
	told := false
	for e := range wd.events {
		switch e.Kind {
		case boomer.TestStarted:
			if e.Index != 0 {
				if !told {
					wd.log.Info("faults: the worker the master numbered 0 runs the fault program", "index", e.Index)
					told = true
				}
				continue
			}
			spawned = make(chan struct{})
			var err error
			if d, err = startDispatch(wd.o, spawned, wd.report, wd.log); err != nil {
				wd.log.Error("faults: no fault program in this test", "err", err)
			}
		case boomer.TestSpawned:
			if spawned != nil {
				close(spawned)
				spawned = nil
			}
		case boomer.TestEnded:
			if err := d.stop(); err != nil {
				wd.log.Error("faults", "err", err)
			}
			d, spawned = nil, nil
		}
	}
	if err := d.stop(); err != nil {
		wd.log.Error("faults", "err", err)
	}
}

// report sends an action to the master, whose locustfile keeps it for the zkload page
// (fleet.MsgFault); a worker that cannot send it still has it in its timeline.
func (wd *workerDispatch) report(a faults.Action) {
	if err := wd.send(fleet.MsgFault, faultMessage(a)); err != nil {
		wd.log.Debug("faults: the action did not reach the master", "err", err)
	}
}

// faultMessage is an action as the zkload page shows it: the timeline's columns
// (faults.TimelineHeader), durations in milliseconds, null where the timeline is empty.
func faultMessage(a faults.Action) map[string]any {
	ms := func(d time.Duration) any {
		if d < 0 {
			return nil
		}
		return float64(d.Microseconds()) / 1000
	}
	idx := func(i int) any {
		if i < 0 {
			return nil
		}
		return i
	}
	return map[string]any{"time": float64(a.Time.UnixMicro()) / 1e6, "action": a.Action, "member": idx(a.Member),
		"address": a.Addr, "role_before": string(a.Before), "leader_before": idx(a.LeaderBefore),
		"leader_after": idx(a.LeaderAfter), "took_ms": ms(a.Took), "election_ms": ms(a.Election),
		"first_write_ms": ms(a.FirstWrite), "note": a.Note}
}

// close ends the last test's dispatcher (the worker has returned).
func (wd *workerDispatch) close() {
	close(wd.events)
	<-wd.done
}

// stop ends the dispatcher, which brings back every member it took out, and closes the
// timeline.
func (d *dispatch) stop() error {
	if d == nil {
		return nil
	}
	d.cancel()
	<-d.done
	if d.probe != nil {
		d.probe.Close()
	}
	if d.file == nil {
		return nil
	}
	err := d.timeline.Err()
	if cerr := d.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("faults timeline: %w", err)
	}
	return nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
