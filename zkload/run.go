package main

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats/locuststats"
)

// consoleEvery is how often a running test's table is printed (Locust's
// CONSOLE_STATS_INTERVAL_SEC), in report intervals of one second.
const consoleEvery = 2

// runOptions are `zkload run`'s options.
type runOptions struct {
	harness     harnessOptions
	workload    workloadOptions
	users       int
	spawnRate   float64
	runTime     time.Duration // 0: until a signal
	host        string
	zkHosts     string // the ensemble, from --hosts, ZK_LOCUST_HOSTS or -H zk://...
	csv         string
	fullHistory bool
	onlySummary bool
	stopTimeout time.Duration
	settings    map[string]string // for run.json
	command     []string          // for run.json, secrets redacted
	given       map[string]string // the raw --users, --spawn-rate and --run-time texts
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

func parseRun(args []string, stdout, stderr io.Writer) (*runOptions, *flagSet, error) {
	fs := newFlagSet("run", "[options] [UserClass ...]",
		`Runs the named user classes (all of zkload's classes when none is named) right here,
without a Locust master, and reports as a headless Locust master would: its console
tables while the test runs and at the end, and with --csv its four CSV files, with
the same columns, formatting and numbers. SIGINT or SIGTERM ends the test early; the
final CSV files and summary are still written. The exit code is 1 if any request
failed or any task raised an exception, as Locust's.`, stdout, stderr)
	fs.add(groupCommon, runSettings()...)
	fs.add(groupCommon, commonSettings()...)
	addWorkloadSettings(fs)
	fs.add(groupStats, statsSettings()...)
	fs.add(groupMetrics, metricsSettings()...)
	fs.add(groupRunDir, reportDirSettings("Locust's CSVs (locust_*.csv), the extended statistics, the ensemble's metrics, the output (zkload.log) and run.json, then the report")...)
	names, err := fs.parse(args)
	if err != nil {
		return nil, nil, err
	}
	o := &runOptions{host: fs.text("host"), command: append([]string{"zkload", "run"}, redactArgs(args)...)}
	hosts := fs.get("hosts")
	o.zkHosts = hosts.Text
	if o.zkHosts == "" && strings.HasPrefix(o.host, "zk://") {
		o.zkHosts = strings.TrimPrefix(o.host, "zk://")
		hosts = setting.Value{Spec: &setting.Spec{Flag: "host"}, Text: o.zkHosts, Source: setting.FromFlag}
	}
	h := &o.harness
	if err := h.reportDir.parse(fs); err != nil {
		return nil, nil, err
	}
	if d := h.reportDir.dir; d != "" {
		// Every output in the directory, unless given elsewhere.
		fs.setDefault("csv", joinPath(d, rundir.LocustPrefix("")))
		fs.setDefault("stats-collect", "1000")
		fs.setDefault("stats-csv", joinPath(d, rundir.Name(rundir.ExtStats, "", "")))
		fs.setDefault("stats-distrib", joinPath(d, rundir.Name(rundir.ExtDistrib, "", "")))
		if o.zkHosts != "" {
			fs.setDefault("zk-metrics-collect", "1000")
			fs.setDefault("zk-metrics-csv", joinPath(d, rundir.Name(rundir.ZKMetrics, "", "")))
		}
	}
	if err := h.common.parse(fs); err != nil {
		return nil, nil, err
	}
	if o.users, err = fs.get("users").Int(0, 1<<31-1); err != nil {
		return nil, nil, fs.fail("--users %s: want 0 or more", fs.text("users"))
	}
	rate := fs.get("spawn-rate")
	if o.spawnRate, err = rate.Float(1e-300, 1e9); err != nil {
		return nil, nil, fs.check(err)
	}
	if rt := fs.get("run-time"); rt.Text != "" {
		if o.runTime, err = parseTimespan(rt.Text); err != nil || o.runTime <= 0 {
			return nil, nil, fs.check(rt.Bad())
		}
	}
	stopSecs, err := fs.get("stop-timeout").Float(0, 1e6)
	if err != nil {
		return nil, nil, fs.check(err)
	}
	o.stopTimeout = time.Duration(stopSecs * float64(time.Second))
	o.csv = fs.text("csv")
	if o.fullHistory, err = fs.flag("csv-full-history"); err != nil {
		return nil, nil, fs.check(err)
	}
	if o.onlySummary, err = fs.flag("only-summary"); err != nil {
		return nil, nil, fs.check(err)
	}
	if o.fullHistory && o.csv == "" {
		return nil, nil, fs.fail("--csv-full-history needs --csv PREFIX")
	}
	if err := o.workload.parse(fs, names); err != nil {
		return nil, nil, err
	}
	if err := h.metrics.parseWorker(fs, hosts); err != nil {
		return nil, nil, err
	}
	if err := h.stats.parse(fs); err != nil {
		return nil, nil, err
	}
	o.settings = flagSettings(fs)
	o.settings["users"], o.settings["spawn_rate"], o.settings["run_time"] = fs.text("users"), rate.Text, fs.text("run-time")
	o.settings["host"], o.settings["classes"], o.settings["hosts"] = o.host, strings.Join(classNames(o.workload.classes), " "), o.zkHosts
	return o, fs, nil
}

func runRun(args []string, stdout, stderr io.Writer) error {
	o, _, err := parseRun(args, stdout, stderr)
	if err != nil {
		return err
	}
	return o.run(stdout, stderr)
}

// run runs the test and reports as a headless master does.
func (o *runOptions) run(stdout, stderr io.Writer) error {
	var info *rundir.RunInfo
	if o.harness.reportDir.dir != "" {
		info = &rundir.RunInfo{Command: o.command, Start: rfc3339(time.Now()), Ensemble: o.zkHosts,
			Tests: classNames(o.workload.classes), Settings: o.settings, Versions: versions(o.zkHosts, false)}
	}
	h, err := startHarness("run", &o.harness, info, rundir.Info, nil, stdout, stderr)
	if err != nil {
		return err
	}
	stdout, stderr = h.stdout, h.stderr
	h.afterInfo = func() { generateReport(o.harness.reportDir.dir, stdout, stderr) }
	log := h.log

	var running atomic.Int64
	sink, err := h.newCollector("local", func() int { return int(running.Load()) })
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
	ctx, stop := h.begin()
	defer stop()
	reports := 0
	err = boomer.RunLocal(ctx, boomer.LocalOptions{
		Classes: o.workload.classes, Users: o.users, SpawnRate: o.spawnRate, RunTime: o.runTime, Host: o.host,
		StopTimeout: o.stopTimeout, Sink: sink, Logger: log,
		OnReport: func(r wire.StatsReport) {
			running.Store(int64(r.UserCount))
			st.Add(&r)
			writeCSV()
			if reports++; !o.onlySummary && reports%consoleEvery == 0 {
				st.WriteStats(stdout, true)
			}
		},
		OnException: func(e wire.Exception) { st.AddException(e, "local") },
	})
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
	if csvErr != nil {
		return h.finish(fmt.Errorf("--csv %s: %w", o.csv, csvErr))
	}
	requests, failures, exceptions := st.Totals()
	if failures > 0 || exceptions > 0 {
		return h.finish(fmt.Errorf("%d of %d requests failed, %d distinct exceptions (exit code 1, as Locust's)", failures, requests, exceptions))
	}
	return h.finish(nil)
}

// joinPath is a file's path in the run directory.
func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimRight(dir, "/") + "/" + name
}
