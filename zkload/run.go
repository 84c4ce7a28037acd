package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/record"
	"github.com/zkload/zkload/stats/locuststats"
)

// consoleEvery is how often a running test's table is printed (Locust's
// CONSOLE_STATS_INTERVAL_SEC), in report intervals of one second.
const consoleEvery = 2

func runRun(args []string, stdout, stderr io.Writer) (rerr error) {
	fs := newFlagSet("run", "[flags] [user-class ...]",
		`Runs the named user classes (all of zkload's classes when none is named) right here,
without a Locust master, and reports as a headless Locust master would: its console
tables while the test runs and at the end, and with --csv its four CSV files, with
the same columns, formatting and numbers. SIGINT or SIGTERM ends the test early; the
final CSV files and summary are still written. The exit code is 1 if any request
failed or any task raised an exception, as Locust's.`, stdout, stderr)
	var (
		users        int
		rateText     string
		runTimeText  string
		host         string
		csvPrefix    = fs.String("csv", "", "write PREFIX_stats.csv, PREFIX_stats_history.csv, PREFIX_failures.csv and PREFIX_exceptions.csv")
		fullHistory  = fs.Bool("csv-full-history", false, "with --csv: a history row per request name too, with current percentiles")
		onlySummary  = fs.Bool("only-summary", false, "print only the final summary, not the table every 2 s")
		stopTimeText = fs.String("stop-timeout", "0", "seconds users may take to finish their task when the test ends")
		wl           workloadFlags
		lf           logFlags
		pf           profileFlags
		sf           statsFlags
		zm           metricsFlags // ensemble metrics, --zk-metrics-* (metrics.go)
		rd           reportDirFlags
	)
	fs.IntVar(&users, "users", 1, "number of users")
	fs.IntVar(&users, "u", 1, "short for --users")
	fs.StringVar(&rateText, "spawn-rate", "1", "users started per second")
	fs.StringVar(&rateText, "r", "1", "short for --spawn-rate")
	fs.StringVar(&runTimeText, "run-time", "", "stop after this long, e.g. 30s, 5m, 1h30m (default: until Ctrl-C)")
	fs.StringVar(&runTimeText, "t", "", "short for --run-time")
	fs.StringVar(&host, "host", "", "host to load (e.g. http://127.0.0.1:8080 or zk://127.0.0.1:2181)")
	fs.StringVar(&host, "H", "", "short for --host")
	wl.register(fs)
	lf.register(fs)
	pf.register(fs)
	sf.register(fs)
	zm.registerWorker(fs)
	rd.register(fs, "Locust's CSVs (locust_*.csv), the extended statistics, the ensemble's metrics, the output (zkload.log) and run.json, then the report")
	names, err := fs.parse(args)
	if err != nil {
		return err
	}
	stopProfile, err := pf.start(fs)
	if err != nil {
		return err
	}
	defer stopProfile()
	zkHosts := envOr(fs, "hosts", "ZK_LOCUST_HOSTS", *wl.zk.vals["hosts"])
	if zkHosts == "" && strings.HasPrefix(host, "zk://") {
		zkHosts = strings.TrimPrefix(host, "zk://")
	}
	var ri *runInfo
	ran := false // the test ran: the directory gets its report
	if rd.dir != "" {
		if err := rd.prepare(fs, nil); err != nil {
			return err
		}
		defaultFlag(fs, "csv", "", rd.path("locust"))
		defaultFlag(fs, "stats-collect", "LOCUST_EXTRA_STATS_COLLECT", "1000")
		defaultFlag(fs, "stats-csv", "LOCUST_EXTRA_STATS_CSV", rd.path("ext_stats.csv"))
		defaultFlag(fs, "stats-distrib", "LOCUST_EXTRA_STATS_DISTRIB", rd.path("ext_distrib.jsonl"))
		if zkHosts != "" {
			defaultFlag(fs, "zk-metrics-collect", "ZK_LOCUST_ZK_METRICS_COLLECT", "1000")
			defaultFlag(fs, "zk-metrics-csv", "ZK_LOCUST_ZK_METRICS_CSV", rd.path("zk_metrics.csv"))
		}
		logFile, err := rd.openLog(fs, "zkload.log")
		if err != nil {
			return err
		}
		defer logFile.Close()
		both := &syncWriter{w: logFile}
		stdout, stderr = io.MultiWriter(stdout, both), io.MultiWriter(stderr, both)
		fs.stdout, fs.stderr = stdout, stderr
		ri = &runInfo{Command: append([]string{"zkload", "run"}, redactArgs(args)...), Start: rfc3339(time.Now()),
			Ensemble: zkHosts, Tests: names, Settings: flagSettings(fs), Versions: map[string]string{}}
		defer func() {
			if !ran && errors.Is(rerr, errUsage) {
				logFile.Close()
				rd.undo() // bad flags: nothing ran
				return
			}
			// After a failed start too: the directory says what was tried.
			ri.End = rfc3339(time.Now())
			code := 0
			if rerr != nil {
				code = map[bool]int{true: 2, false: 1}[errors.Is(rerr, errUsage)]
			}
			ri.Exit = &code
			if err := ri.Write(rd.path("run.json")); err != nil {
				fmt.Fprintf(stderr, "zkload run: --report-dir: %v\n", err)
			}
			if ran {
				generateReport(rd.dir, stdout, stderr)
			}
		}()
	}
	log, err := lf.logger(fs)
	if err != nil {
		return err
	}
	if users < 0 {
		return fs.fail("--users %d: want 0 or more", users)
	}
	rate, err := strconv.ParseFloat(rateText, 64)
	if err != nil || !(rate > 0) || rate > 1e9 {
		return fs.fail("--spawn-rate %q: want a positive number of users per second", rateText)
	}
	var runTime time.Duration
	if runTimeText != "" {
		if runTime, err = parseTimespan(runTimeText); err != nil || runTime <= 0 {
			return fs.fail("--run-time %q: want a time span such as 30s, 5m or 1h30m", runTimeText)
		}
	}
	stopSecs, err := strconv.ParseFloat(*stopTimeText, 64)
	if err != nil || stopSecs < 0 || stopSecs > 1e6 {
		return fs.fail("--stop-timeout %q: want seconds, 0 or more", *stopTimeText)
	}
	if *fullHistory && *csvPrefix == "" {
		return fs.fail("--csv-full-history needs --csv PREFIX")
	}
	if err := wl.validate(fs); err != nil {
		return err
	}
	classes, err := selectClasses(fs, wl.classes(), names)
	if err != nil {
		return err
	}
	zmHosts := envOr(fs, "hosts", "ZK_LOCUST_HOSTS", *wl.zk.vals["hosts"])
	if zmHosts == "" {
		zmHosts = zkHosts // from -H zk://...
	}
	zmPoll, err := zm.workerMetrics(fs, zmHosts, log)
	if err != nil {
		return err
	}
	defer zmPoll.stopLogging(log)
	if ri != nil {
		ri.Tests = classNames(classes)
		ri.Settings["users"], ri.Settings["spawn_rate"], ri.Settings["run_time"] = strconv.Itoa(users), rateText, runTimeText
		ri.Settings["host"], ri.Settings["classes"], ri.Settings["hosts"] = host, strings.Join(ri.Tests, " "), zkHosts
		ri.Versions = versions(zkHosts, false)
		if err := ri.Write(rd.path("run.json")); err != nil {
			return fs.fail("--report-dir %q: %v", rd.dir, err)
		}
	}
	var running atomic.Int64
	col, err := sf.collector(fs, "local", func() int { return int(running.Load()) }, log)
	if err != nil {
		return err
	}
	var sink record.Sink // extended statistics, when on
	if col != nil {
		sink = col
		defer col.Close() // after an early return; the normal exit closes it below
	}

	st := locuststats.New(nil)
	var csvOut *locuststats.CSV
	if *csvPrefix != "" {
		if csvOut, err = locuststats.CreateCSV(*csvPrefix, *fullHistory); err != nil {
			return fs.fail("--csv %q: %v", *csvPrefix, err)
		}
		defer csvOut.Close() // after an early return; the normal exit closes it below
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

	ctx, stop := signalContext(stderr, "run")
	defer stop()
	if col != nil {
		col.Start(context.Background()) // stopped by Close, after the final report
	}
	reports := 0
	err = boomer.RunLocal(ctx, boomer.LocalOptions{
		Classes: classes, Users: users, SpawnRate: rate, RunTime: runTime, Host: host,
		StopTimeout: time.Duration(stopSecs * float64(time.Second)), Sink: sink, Logger: log,
		OnReport: func(r wire.StatsReport) {
			running.Store(int64(r.UserCount))
			st.Add(&r)
			writeCSV()
			if reports++; !*onlySummary && reports%consoleEvery == 0 {
				st.WriteStats(stdout, true)
			}
		},
		OnException: func(e wire.Exception) { st.AddException(e, "local") },
	})
	if err != nil {
		return fs.fail("%v", err)
	}
	ran = true
	zmPoll.stopLogging(log)
	// The last report came after every user stopped: the final files hold everything.
	running.Store(0)
	writeCSV()
	if csvOut != nil {
		if cerr := csvOut.Close(); cerr != nil && csvErr == nil {
			csvErr = cerr
		}
	}
	if col != nil {
		if cerr := col.Close(); cerr != nil {
			log.Error("extended stats", "err", cerr)
			if csvErr == nil {
				csvErr = cerr
			}
		}
	}
	if err := st.WriteSummary(stdout); err != nil {
		return err
	}
	if csvErr != nil {
		return fmt.Errorf("--csv %s: %w", *csvPrefix, csvErr)
	}
	requests, failures, exceptions := st.Totals()
	if failures > 0 || exceptions > 0 {
		return fmt.Errorf("%d of %d requests failed, %d distinct exceptions (exit code 1, as Locust's)", failures, requests, exceptions)
	}
	return nil
}

var timespanRx = regexp.MustCompile(`^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$`)

// parseTimespan reads a time span as Locust's -t does: plain seconds ("90") or
// hours, minutes and seconds ("1h30m", "5m", "20s"); Go durations work too.
func parseTimespan(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if m := timespanRx.FindStringSubmatch(s); m != nil && s != "" {
		var d time.Duration
		for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
			if m[i+1] != "" {
				n, err := strconv.Atoi(m[i+1])
				if err != nil {
					return 0, err
				}
				d += time.Duration(n) * unit
			}
		}
		return d, nil
	}
	return time.ParseDuration(s)
}
