package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/control"
	"github.com/zkload/zkload/fleet"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats"
	"github.com/zkload/zkload/stats/ensemble"
	"github.com/zkload/zkload/tasks/openloop"
)

// fleetWorker is a worker's part of the fleet (package fleet, doc/load-control.md):
// during a test it sends each statistics window to the master; the worker the master
// numbered 0 hosts the hub, which merges every worker's windows into fleet views (to
// the master, for its page) and runs the load controller on them, its decisions going
// back through the master's relay (the generated locustfile). Every worker's users
// share one open-loop plan, which a rate controller steers.
type fleetWorker struct {
	log       *slog.Logger
	plan      *openloop.Shared
	layers    setting.Layers // the worker's own flags, under the master's options
	specs     map[string]*setting.Spec
	reportDir string
	metrics   *metricsPoll

	w *boomer.Worker
	// workers is the master's count of workers at the test's start (MsgFleet).
	workers atomic.Int64
	// rates are the open loop's rate settings of the workloads (ZooKeeper's --rate,
	// Http's --http-rate): given by the master, a rate is the fleet's.
	rates []*setting.Spec

	mu     sync.Mutex
	node   string
	index  int
	inTest bool
	// relay is whether this test's master runs zkload's relay (the generated
	// locustfile): without it the fleet's messages would reach no handler, and Locust
	// logs a warning for each one.
	relay    bool
	hubStop  context.CancelFunc
	hubDone  chan struct{}
	hubIn    chan fleet.Window
	lastPlan openloop.Counts
	ctl      *controlOptions // this test's controller (nil: none)
	result   *controlLoop    // the last test's controller, for the worker's run information
}

func newFleetWorker(node string, plan *openloop.Shared, layers setting.Layers, reportDir string, mp *metricsPoll, log *slog.Logger) *fleetWorker {
	f := &fleetWorker{log: log, node: node, plan: plan, layers: layers, reportDir: reportDir, metrics: mp, specs: map[string]*setting.Spec{}}
	for _, s := range controlSettings() {
		f.specs[s.Flag] = s
	}
	f.workers.Store(1)
	for _, w := range workloads() {
		for _, s := range w.Settings() {
			if s.Flag == "rate" || s.Flag == "http-rate" {
				f.rates = append(f.rates, s)
				f.specs[s.Flag] = s // a rate controller starts at the rate set
			}
		}
	}
	return f
}

// attach registers the fleet's messages on the worker (before it runs).
func (f *fleetWorker) attach(w *boomer.Worker) {
	f.w = w
	w.Handle(fleet.MsgWindow, f.onWindowMessage)
	w.Handle(fleet.MsgRate, f.onRate)
	w.Handle(fleet.MsgFleet, func(m wire.Message) {
		if d, ok := m.Data.(map[string]any); ok {
			if n, ok := wire.Number(d["workers"]); ok && n >= 1 {
				f.workers.Store(int64(n))
			}
		}
	})
}

// masterRate is the open loop's rate the master's options give (a worker's own flag or
// environment variable wins, and is the worker's alone), and the option's name.
func (f *fleetWorker) masterRate(opts map[string]any) (float64, string) {
	l := f.layers
	l.Master = opts
	for _, s := range f.rates {
		v := l.Get(s)
		if v.Source != setting.FromMaster {
			continue
		}
		if r, err := v.Float(0, 1e9); err == nil && r > 0 {
			return r, "--" + strings.ReplaceAll(s.Option, "_", "-")
		}
	}
	return 0, ""
}

// controlFor resolves this test's controller from the worker's flags over the master's
// options; a bad setting is logged (the users run without a controller).
func (f *fleetWorker) controlFor(opts map[string]any) *controlOptions {
	l := f.layers
	l.Master = opts
	o := &controlOptions{}
	get := func(name string) setting.Value {
		s := f.specs[name]
		if s == nil { // a setting of no workload here: its default
			return setting.Value{Spec: &setting.Spec{Flag: name}}
		}
		return l.Get(s)
	}
	if err := o.parse(get, f.reportDir); err != nil {
		f.log.Error("load control: the test runs without it", "err", err)
		return nil
	}
	if !o.on() {
		return nil
	}
	return o
}

// relayPresent reports whether a master's parsed options come from a locustfile with
// zkload's relay: it adds the load-control options, so they are present (empty or not).
func relayPresent(opts map[string]any) bool {
	for _, s := range controlSettings() {
		if _, ok := opts[s.Option]; ok {
			return true
		}
	}
	return false
}

// relayed reports whether the current test's master runs zkload's relay.
func (f *fleetWorker) relayed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.relay
}

// beforeTest steers the plan before the users start when the test's controller sets
// the rate: paused until the hub's first decision reaches this worker. It returns
// whether the master relays the fleet's messages (relayPresent): only then do windows
// flow, and the page and the controller exist.
func (f *fleetWorker) beforeTest(opts map[string]any) bool {
	relay := relayPresent(opts)
	var o *controlOptions
	if relay {
		o = f.controlFor(opts)
	} else if f.controlFor(opts) != nil {
		f.log.Error("load control needs zkload's relay on the master: run the master with the locustfile that `zkload locustfile` writes; the test runs without it")
	}
	f.mu.Lock()
	f.ctl, f.relay = o, relay
	f.mu.Unlock()
	if o != nil && o.rate() {
		if err := f.plan.Steer(0); err != nil {
			f.log.Error("load control", "err", err)
		}
		return relay
	}
	// A rate from the master's options is the fleet's: this worker offers its share.
	if r, which := f.masterRate(opts); r > 0 {
		n := f.workers.Load()
		share := r / float64(n)
		if err := f.plan.Steer(share); err != nil {
			f.log.Error("fleet rate", "err", err)
			return relay
		}
		f.log.Info("the master's rate is the fleet's: this worker offers its share", "option", which, "rate", r, "workers", n,
			"share", strconv.FormatFloat(share, 'f', 2, 64))
		return relay
	}
	f.plan.Release()
	return relay
}

// onTest follows the test: windows flow while it runs; worker 0 hosts the hub.
func (f *fleetWorker) onTest(ev boomer.TestEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch ev.Kind {
	case boomer.TestStarted:
		f.inTest, f.index = true, ev.Index
		if ev.Index == 0 && f.hubStop == nil && f.relay {
			f.startHubLocked()
		}
	case boomer.TestEnded:
		f.inTest = false
		if f.hubStop != nil {
			f.hubStop()
			f.hubStop = nil
		}
	}
}

// onWindow is the extended statistics' window hook: the window goes to the master.
func (f *fleetWorker) onWindow(sw stats.Window) {
	f.mu.Lock()
	in, index, relay := f.inTest, f.index, f.relay
	f.mu.Unlock()
	if !in || !relay || f.w == nil {
		return
	}
	w := fleet.Window{Worker: index, Node: f.node, End: sw.End, Width: sw.End.Sub(sw.Start), Users: sw.Users}
	for k, s := range sw.Entries {
		if s.Requests > 0 || k.IsTotal() {
			w.Entries = append(w.Entries, fleet.Entry{Key: k, Summary: s})
		}
		if k.Method == openloop.ScheduleLag && s.Requests > 0 {
			w.Lag = max(w.Lag, time.Duration(s.MaxNanos))
		}
	}
	if p := f.plan.Pacer(); p != nil {
		c := p.Counts()
		if w.Width > 0 && c.Planned >= f.lastPlan.Planned {
			w.Offered = float64(c.Planned-f.lastPlan.Planned) / w.Width.Seconds()
		}
		f.lastPlan = c
	}
	if f.metrics != nil {
		if p := f.metrics.last.Load(); p != nil {
			w.Members = membersOf(*p)
		}
	}
	data, err := w.Encode()
	if err != nil {
		f.log.Warn("fleet: a window could not be encoded", "err", err)
		return
	}
	if err := f.w.Send(fleet.MsgWindow, data); err != nil {
		f.log.Debug("fleet: a window was not sent", "err", err)
	}
}

// membersOf turns an ensemble poll into the fleet's members.
func membersOf(samples []ensemble.Sample) []fleet.Member {
	out := make([]fleet.Member, 0, len(samples))
	for _, s := range samples {
		m := fleet.Member{HostPort: s.HostPort, State: s.State, Up: s.Err == nil, Metrics: map[string]float64{}}
		for _, x := range s.Metrics {
			if v, err := strconv.ParseFloat(x.Value, 64); err == nil {
				m.Metrics[x.Name] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// onWindowMessage takes a worker's window relayed by the master (the hub only).
func (f *fleetWorker) onWindowMessage(m wire.Message) {
	w, err := fleet.DecodeWindow(m.Data)
	if err != nil {
		f.log.Warn("fleet: a malformed window was ignored", "err", err)
		return
	}
	f.mu.Lock()
	in := f.hubIn
	f.mu.Unlock()
	if in == nil {
		return
	}
	select {
	case in <- w:
	default:
		f.log.Warn("fleet: the hub is behind; a window was dropped")
	}
}

// onRate sets this worker's share of the fleet's rate (MsgRate from the relay).
func (f *fleetWorker) onRate(m wire.Message) {
	d, ok := m.Data.(map[string]any)
	if !ok {
		f.log.Warn("fleet: a malformed rate message was ignored")
		return
	}
	rate, _ := wire.Number(d["rate"])
	workers, _ := wire.Number(d["workers"])
	share := rate
	if workers > 1 {
		share = rate / workers
	}
	if shares, ok := d["shares"].(map[string]any); ok {
		if s, ok := wire.Number(shares[f.node]); ok {
			share = s
		}
	}
	if share < 0 {
		return
	}
	if err := f.plan.Steer(share); err != nil {
		f.log.Warn("fleet: rate", "err", err)
	}
}

// startHubLocked starts the hub for a test: it announces itself to the master, merges
// the windows, sends the views, and runs the test's controller. f.mu is held.
func (f *fleetWorker) startHubLocked() {
	ctx, cancel := context.WithCancel(context.Background())
	f.hubStop = cancel
	in := make(chan fleet.Window, 256)
	f.hubIn = in
	done := make(chan struct{})
	f.hubDone = done
	o := f.ctl
	if err := f.w.Send(fleet.MsgHub, nil); err != nil {
		f.log.Warn("fleet: could not announce the hub", "err", err)
	}
	var loop *controlLoop
	if o != nil {
		var err error
		if loop, err = newControlLoop(o, f.plan, nil, f.log); err != nil {
			f.log.Error("load control: the test runs without it", "err", err)
			loop = nil
		}
	}
	f.result = loop
	go f.hub(ctx, in, loop, done)
}

// hub merges the windows into views until the test ends.
func (f *fleetWorker) hub(ctx context.Context, in <-chan fleet.Window, loop *controlLoop, done chan struct{}) {
	defer close(done)
	var h fleet.Hub
	var lastWorkers []fleet.WorkerView
	var mu sync.Mutex // guards lastWorkers, read by send on the loop's goroutine
	if loop != nil {
		loop.end = func(error) {} // the relay stops the test (send carries it)
		loop.send = func(d control.Decision) {
			mu.Lock()
			shares := fleet.Shares(d.Rate, lastWorkers)
			mu.Unlock()
			data := map[string]any{"unit": d.Unit.String(), "reason": d.Reason, "done": d.Done}
			switch d.Unit {
			case control.Rate:
				s := map[string]any{}
				for k, v := range shares {
					s[k] = v
				}
				data["rate"], data["shares"] = d.Rate, s
			case control.Users:
				data["users"], data["spawn_rate"] = d.Users, d.SpawnRate
			}
			if d.Verdict != nil {
				data["verdict"], data["exit_code"] = d.Verdict.Text, d.Verdict.ExitCode
			}
			if d.Done || d.Verdict != nil {
				data["stop"] = true
			}
			if err := f.w.Send(fleet.MsgDecision, data); err != nil {
				f.log.Warn("fleet: a decision was not sent", "err", err)
			}
		}
		go loop.run(ctx)
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	emit := func(views []fleet.View) {
		for _, v := range views {
			mu.Lock()
			lastWorkers = v.Workers
			mu.Unlock()
			// A second some worker's window missed (it came after the grace) is not the
			// fleet's: its rates would read as a fall of the target's. The page still
			// shows it; the controller waits for whole seconds.
			if loop != nil && (v.Expected == 0 || len(v.Workers) >= v.Expected) {
				select {
				case loop.windows <- v.Control():
				default:
					f.log.Warn("load control: a window was dropped (the controller is behind)")
				}
			}
			if err := f.w.Send(fleet.MsgView, v.Encode()); err != nil {
				f.log.Debug("fleet: a view was not sent", "err", err)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			emit(h.Due(time.Now().Add(time.Hour)))
			if loop != nil {
				if err := loop.close(); err != nil {
					f.log.Error("load control", "err", err)
				}
				loop.summaryLog(f.log)
			}
			return
		case w := <-in:
			emit(h.Add(w))
		case now := <-tick.C:
			emit(h.Due(now))
		}
	}
}

// lastControl is the controller the hub ran for the last test, nil if none.
func (f *fleetWorker) lastControl() *controlLoop {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.result
}

// close stops the hub, if any, and waits for it.
func (f *fleetWorker) close() {
	f.mu.Lock()
	stop, done := f.hubStop, f.hubDone
	f.hubStop = nil
	f.mu.Unlock()
	if stop != nil {
		stop()
	}
	if done != nil {
		<-done
	}
}

// summaryLog logs what the controller found (a worker has no console summary).
func (l *controlLoop) summaryLog(log *slog.Logger) {
	var b fmtBuffer
	l.summary(&b)
	if s := b.String(); s != "" {
		log.Info(fmt.Sprintf("load control: %s", s))
	}
}

// fmtBuffer collects a summary's text on one line.
type fmtBuffer struct{ s []byte }

func (b *fmtBuffer) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			if len(b.s) > 0 && b.s[len(b.s)-1] != ' ' {
				b.s = append(b.s, ' ')
			}
			continue
		}
		b.s = append(b.s, c)
	}
	return len(p), nil
}

func (b *fmtBuffer) String() string { return string(b.s) }
