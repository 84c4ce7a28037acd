package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/record"
)

func runWorker(args []string, stdout, stderr io.Writer) (rerr error) {
	fs := newFlagSet("worker", "[flags] [user-class ...]",
		`Connects to a Locust master and runs the users it dispatches to the named user
classes (all of zkload's classes when none is named). The master's locustfile must
declare classes of the same names: see "zkload locustfile".

Environment: LOCUST_MASTER_NODE_HOST, LOCUST_MASTER_NODE_PORT (as Locust's workers),
LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP (seconds).`, stdout, stderr)
	var (
		masterHost    = fs.String("master-host", "127.0.0.1", "host or address of the Locust master (env LOCUST_MASTER_NODE_HOST)")
		masterPort    = fs.String("master-port", "5557", "port of the Locust master (env LOCUST_MASTER_NODE_PORT)")
		host          string
		masterTimeout = fs.Duration("master-timeout", 60*time.Second, "re-register after this long without heartbeats from a master that sends them (Locust 2.19+)")
		wl            workloadFlags
		lf            logFlags
		pf            profileFlags
		sf            statsFlags
	)
	fs.StringVar(&host, "host", "", "host to load; overrides the master's -H")
	fs.StringVar(&host, "H", "", "short for --host")
	wl.register(fs)
	lf.register(fs)
	pf.register(fs)
	sf.register(fs)
	var zm metricsFlags // ensemble metrics, --zk-metrics-* (metrics.go)
	zm.registerWorker(fs)
	var rd reportDirFlags
	rd.register(fs, "this worker's extended statistics, ensemble metrics, output and run information, named by its node id (ext_stats_<id>.csv, ...; several workers may share it)")
	names, err := fs.parse(args)
	if err != nil {
		return err
	}
	stopProfile, err := pf.start(fs)
	if err != nil {
		return err
	}
	defer stopProfile()
	nodeID, err := boomer.NewNodeID()
	if err != nil {
		return err
	}
	zkHosts := envOr(fs, "hosts", "ZK_LOCUST_HOSTS", *wl.zk.vals["hosts"])
	var ri *runInfo
	started := false // the flags were good: the worker ran
	if rd.dir != "" {
		// Workers may share the directory: each names its files with its node id, and
		// refuses only files it would overwrite (and a finished run's run.json).
		tag := fileTag(nodeID)
		stName, distName, zmName := "ext_stats_"+tag+".csv", "ext_distrib_"+tag+".jsonl", "zk_metrics_"+tag+".csv"
		logName, infoName := "worker_"+tag+".log", "worker_"+tag+".json"
		if err := rd.prepare(fs, []string{stName, distName, zmName, logName, infoName}); err != nil {
			return err
		}
		defaultFlag(fs, "stats-collect", "LOCUST_EXTRA_STATS_COLLECT", "1000")
		defaultFlag(fs, "stats-csv", "LOCUST_EXTRA_STATS_CSV", rd.path(stName))
		defaultFlag(fs, "stats-distrib", "LOCUST_EXTRA_STATS_DISTRIB", rd.path(distName))
		if zkHosts != "" {
			defaultFlag(fs, "zk-metrics-collect", "ZK_LOCUST_ZK_METRICS_COLLECT", "1000")
			defaultFlag(fs, "zk-metrics-csv", "ZK_LOCUST_ZK_METRICS_CSV", rd.path(zmName))
		}
		logFile, err := rd.openLog(fs, logName)
		if err != nil {
			return err
		}
		defer logFile.Close()
		both := &syncWriter{w: logFile}
		stdout, stderr = io.MultiWriter(stdout, both), io.MultiWriter(stderr, both)
		fs.stdout, fs.stderr = stdout, stderr
		ri = &runInfo{Command: append([]string{"zkload", "worker"}, redactArgs(args)...), Start: rfc3339(time.Now()),
			Ensemble: zkHosts, Tests: names, Settings: flagSettings(fs), Versions: map[string]string{}, NodeID: nodeID}
		defer func() {
			if !started && errors.Is(rerr, errUsage) {
				logFile.Close()
				for _, n := range []string{stName, distName, zmName, logName, infoName} {
					os.Remove(rd.path(n)) // bad flags: nothing ran
				}
				return
			}
			ri.End = rfc3339(time.Now())
			code := 0
			if rerr != nil {
				code = 1
			}
			ri.Exit = &code
			if err := ri.Write(rd.path(infoName)); err != nil {
				fmt.Fprintf(stderr, "zkload worker: --report-dir: %v\n", err)
			}
		}()
	}
	log, err := lf.logger(fs)
	if err != nil {
		return err
	}
	mh := envOr(fs, "master-host", "LOCUST_MASTER_NODE_HOST", *masterHost)
	mpText := envOr(fs, "master-port", "LOCUST_MASTER_NODE_PORT", *masterPort)
	what := "--master-port"
	if !fs.set("master-port") && os.Getenv("LOCUST_MASTER_NODE_PORT") != "" {
		what = "LOCUST_MASTER_NODE_PORT"
	}
	mp, err := parsePort(fs, what, mpText)
	if err != nil {
		return err
	}
	if *masterTimeout <= 0 {
		return fs.fail("--master-timeout %s: want a positive duration such as 60s", *masterTimeout)
	}
	var extraWait time.Duration
	if v := os.Getenv("LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fs.fail("LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP %q: want whole seconds, 0 or more", v)
		}
		extraWait = time.Duration(n) * time.Second
	}
	if err := wl.validate(fs); err != nil {
		return err
	}
	classes, err := selectClasses(fs, wl.classes(), names)
	if err != nil {
		return err
	}
	zmPoll, err := zm.workerMetrics(fs, zkHosts, log)
	if err != nil {
		return err
	}
	defer zmPoll.stopLogging(log)
	if ri != nil {
		ri.Tests = classNames(classes)
		ri.Settings["classes"], ri.Settings["hosts"], ri.Settings["master"] = strings.Join(ri.Tests, " "), zkHosts, fmt.Sprintf("%s:%d", mh, mp)
		ri.Versions = versions(zkHosts, false)
		if err := ri.Write(rd.path("worker_" + fileTag(nodeID) + ".json")); err != nil {
			return fs.fail("--report-dir %q: %v", rd.dir, err)
		}
	}
	started = true
	var w *boomer.Worker
	col, err := sf.collector(fs, nodeID, func() int {
		if w == nil {
			return 0
		}
		return w.UserCount()
	}, log)
	if err != nil {
		return err
	}
	var sink record.Sink // extended statistics, when on
	if col != nil {
		sink = col
		defer col.Close() // after an early return; the normal exit closes it below
	}
	w, err = boomer.NewWorker(boomer.WorkerOptions{
		NodeID:        nodeID,
		Sink:          sink,
		MasterHost:    mh,
		MasterPort:    mp,
		Classes:       classes,
		Host:          host,
		Logger:        log,
		MasterTimeout: *masterTimeout,
		WaitAfterStop: extraWait,
	})
	if err != nil {
		return err
	}
	ctx, stop := signalContext(stderr, "worker")
	defer stop()
	if col == nil {
		return w.Run(ctx)
	}
	col.Start(context.Background()) // stopped by Close, after the final report
	err = w.Run(ctx)
	if cerr := col.Close(); cerr != nil {
		log.Error("extended stats", "err", cerr)
		if err == nil {
			err = cerr
		}
	}
	return err
}
