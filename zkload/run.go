package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats"
	"github.com/zkload/zkload/stats/locuststats"
	"github.com/zkload/zkload/tasks/openloop"
)

// consoleEvery is how often a running test's table is printed (Locust's
// CONSOLE_STATS_INTERVAL_SEC), in report intervals of one second.
const consoleEvery = 2

// runOptions are `zkload run`'s options.
type runOptions struct {
	harness     harnessOptions
	users       int
	spawnRate   float64
	runTime     time.Duration // 0: until a signal
	host        string
	csv         string
	fullHistory bool
	onlySummary bool
	stopTimeout time.Duration
	limit       boomer.UserLimit // the most users this machine holds (doc/run.md)
	dispatch    dispatchOptions
	control     controlOptions
}

func runSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "users", Short: "u", Default: "1", Arg: "N", Help: "number of users", Expect: "0 or more"},
		{Flag: "spawn-rate", Short: "r", Default: "1", Arg: "RATE", Help: "users started per second", Expect: "a positive number of users per second"},
		{Flag: "run-time", Short: "t", Arg: "TIME", Help: "stop after this long, e.g. 30s, 5m, 1h30m (default: until Ctrl-C)",
			Expect: "a time span such as 30s, 5m or 1h30m"},
		{Flag: "host", Short: "H", Arg: "HOST", Help: "host to load (e.g. http://127.0.0.1:8080 or zk://127.0.0.1:2181)"},
		{Flag: "csv", Arg: "PREFIX", Help: "write PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv and PREFIX_exceptions.csv"},
		{Flag: "csv-full-history", Bool: true, Help: "with --csv: a history row per request name too, with current percentiles"},
		{Flag: "only-summary", Bool: true, Help: "print only the final summary, not the table every 2 s"},
		{Flag: "stop-timeout", Default: "0", Arg: "SECONDS", Help: "seconds users may take to finish their task when the test ends", Expect: "seconds, 0 or more"},
	}
}

func parseRun(fs *flagSet, names []string) (*runOptions, error) {
	o := &runOptions{host: fs.text("host"), limit: boomer.MachineUserLimit()}
	hosts := fs.get("hosts")
	o.harness.zkHosts = hosts.Text
	if o.harness.zkHosts == "" && strings.HasPrefix(o.host, "zk://") {
		o.harness.zkHosts = strings.TrimPrefix(o.host, "zk://")
		hosts = setting.Value{Spec: &setting.Spec{Flag: "host"}, Text: o.harness.zkHosts, Source: setting.FromFlag}
	}
	err := o.harness.parse(fs, "run", o.harness.zkHosts, "")
	if err != nil {
		return nil, err
	}
	if d := o.harness.reportDir.dir; d != "" {
		fs.setDefault("csv", filepath.Join(d, rundir.LocustPrefix("")))
	}
	if o.users, err = parseUsers(fs.text("users"), o.limit); err != nil {
		return nil, fs.fail("--users %s: %v", fs.text("users"), err)
	}
	rate := fs.get("spawn-rate")
	if o.spawnRate, err = rate.Float(1e-300, 1e9); err != nil {
		return nil, fs.check(err)
	}
	if rt := fs.get("run-time"); rt.Text != "" {
		if o.runTime, err = parseTimespan(rt.Text); err != nil || o.runTime <= 0 {
			return nil, fs.check(rt.Bad())
		}
	}
	stopSecs, err := fs.get("stop-timeout").Float(0, 1e6)
	if err != nil {
		return nil, fs.check(err)
	}
	o.stopTimeout = time.Duration(stopSecs * float64(time.Second))
	o.csv = fs.text("csv")
	if o.fullHistory, err = fs.flag("csv-full-history"); err != nil {
		return nil, fs.check(err)
	}
	if o.onlySummary, err = fs.flag("only-summary"); err != nil {
		return nil, fs.check(err)
	}
	if o.fullHistory && o.csv == "" {
		return nil, fs.fail("--csv-full-history needs --csv PREFIX")
	}
	if err := o.control.parse(fs.get, o.harness.reportDir.dir); err != nil {
		return nil, fs.fail("%v", err)
	}
	if o.control.rate() {
		o.harness.workload.plan = &openloop.Shared{} // one plan, steered: every class joins it
	}
	if err := o.harness.parseTest(fs, names, o.host, true, hosts); err != nil {
		return nil, err
	}
	if err := o.dispatch.parse(fs, o.harness.zkHosts, o.harness.reportDir.dir); err != nil {
		return nil, err
	}
	if o.control.ensemble != "" && o.harness.metrics.interval == 0 {
		return nil, fs.fail("%s reads the ensemble's metrics, which are not polled: set --zk-metrics-collect MS (and --hosts), or --report-dir with --hosts", o.control.ensemble)
	}
	st := o.harness.settings
	st["users"], st["spawn_rate"], st["run_time"], st["host"] = fs.text("users"), rate.Text, fs.text("run-time"), o.host
	return o, nil
}

// run runs the test and reports as a headless master does.
func (o *runOptions) run(stdout, stderr io.Writer) error {
	h, err := startHarness(&o.harness, o.harness.runInfo(), rundir.Info, nil, stdout, stderr)
	if err != nil {
		return err
	}
	stdout, stderr = h.stdout, h.stderr
	if dir := o.harness.reportDir.dir; dir != "" {
		h.afterInfo = func() { generateReport(dir, stdout, stderr) }
	}
	log := h.log

	var running atomic.Int64
	if o.control.rate() {
		if err := o.harness.workload.plan.Steer(o.control.start); err != nil {
			return h.fail(err)
		}
	}
	var loop *controlLoop
	var onWindow func(stats.Window)
	if o.control.on() {
		if loop, err = newControlLoop(&o.control, o.harness.workload.plan, ensembleSignals(h.metrics), log); err != nil {
			return h.fail(err)
		}
		onWindow = loop.onWindow
	}
	sink, err := h.newCollector("local", func() int { return int(running.Load()) }, onWindow)
	if err != nil {
		return err
	}
	st := locuststats.New(nil)
	var csvOut *locuststats.CSV
	if o.csv != "" {
		if csvOut, err = locuststats.CreateCSV(o.csv, o.fullHistory); err != nil {
			return h.fail(fmt.Errorf("--csv %q: %w", o.csv, err))
		}
	}
	var csvErr error
	writeCSV := func() {
		if csvOut == nil {
			return
		}
		if err := csvOut.Write(st, int(running.Load()), time.Now()); err != nil && csvErr == nil {
			csvErr = err
			log.Error("writing the CSV files", "err", err)
		}
	}
	if err := h.servePrometheus("local", func() (int, map[string]int) { return int(running.Load()), nil }); err != nil {
		return err
	}
	spawned := make(chan struct{})
	var spawnedOnce sync.Once
	disp, err := startDispatch(&o.dispatch, spawned, nil, log)
	if err != nil {
		return h.fail(err)
	}
	ctx, stop := h.begin()
	defer stop()
	var ramps <-chan boomer.Ramp
	var endControl context.CancelFunc = func() {}
	if loop != nil {
		var end context.CancelCauseFunc
		ctx, end = context.WithCancelCause(ctx)
		loop.end = end
		var loopCtx context.Context
		loopCtx, endControl = context.WithCancel(ctx)
		ramps = loop.ramps
		go loop.run(loopCtx)
	}
	reports := 0
	err = boomer.RunLocal(ctx, boomer.LocalOptions{
		Ramps:   ramps,
		Classes: o.harness.workload.classes, Users: o.users, Limit: &o.limit, SpawnRate: o.spawnRate, RunTime: o.runTime, Host: o.host,
		StopTimeout: o.stopTimeout, Sink: sink, Logger: log,
		OnReport: func(r wire.StatsReport) {
			running.Store(int64(r.UserCount))
			st.Add(&r)
			writeCSV()
			if reports++; !o.onlySummary && reports%consoleEvery == 0 {
				st.WriteStats(stdout, true)
			}
		},
		OnException: func(e wire.Exception) {
			// Each distinct exception once, when first raised: the report at the end
			// counts them all.
			if st.AddException(e, "local") {
				log.Error("a user raised an exception (each distinct one is logged once; the summary counts them)", "exception", e.Msg)
			}
		},
		OnSpawned: func() { spawnedOnce.Do(func() { close(spawned) }) },
	})
	endControl()
	var controlErr error
	if loop != nil {
		controlErr = loop.close()
		if h.info != nil {
			h.info.Control = loop.result()
		}
	}
	// The dispatcher brings back every member it took out before the summary.
	faultsErr := disp.stop()
	if faultsErr != nil {
		log.Error("faults", "err", faultsErr)
	}
	// The last report came after every user stopped: the final files hold everything.
	running.Store(0)
	writeCSV()
	if csvOut != nil {
		if cerr := csvOut.Close(); cerr != nil && csvErr == nil {
			csvErr = cerr
		}
	}
	if err != nil {
		return h.fail(err) // bad options only: nothing ran
	}
	if serr := h.stopSources(); serr != nil && csvErr == nil {
		csvErr = serr
	}
	if err := st.WriteSummary(stdout); err != nil {
		return h.finish(err)
	}
	if err := st.WriteExceptions(stdout); err != nil {
		return h.finish(err)
	}
	if loop != nil {
		loop.summary(stdout)
		if v := loop.verdictOf(); v != nil {
			return h.finish(&codedError{code: v.ExitCode, err: errors.New(v.Text)})
		}
	}
	if controlErr != nil {
		return h.finish(controlErr)
	}
	if csvErr != nil {
		return h.finish(fmt.Errorf("--csv %s: %w", o.csv, csvErr))
	}
	if faultsErr != nil {
		return h.finish(faultsErr)
	}
	requests, failures, exceptions := st.Totals()
	if failures > 0 || exceptions > 0 {
		return h.finish(fmt.Errorf("%d of %d requests failed, %d distinct exceptions (exit code 1, as Locust's)", failures, requests, exceptions))
	}
	return h.finish(nil)
}

// parseUsers reads --users: a whole number from 0 to the machine's user limit. A
// number too large even for an int is more than the limit too, and said so.
func parseUsers(text string, limit boomer.UserLimit) (int, error) {
	t := strings.TrimSpace(text)
	n, err := strconv.ParseInt(t, 10, 64)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(t, "-") {
		n, err = math.MaxInt64, nil
	}
	if err != nil || n < 0 {
		return 0, errors.New("want a whole number, 0 or more")
	}
	if n > int64(limit.Users) {
		return 0, fmt.Errorf("more than this machine can hold; at most %s", limit)
	}
	return int(n), nil
}
