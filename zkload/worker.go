package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
)

// workerOptions are `zkload worker`'s options.
type workerOptions struct {
	harness       harnessOptions
	workload      workloadOptions
	nodeID        string
	masterHost    string
	masterPort    int
	masterTimeout time.Duration
	waitAfterStop time.Duration
	host          string
	zkHosts       string
	settings      map[string]string // for the run information
	command       []string
}

func workerSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "master-host", Env: "LOCUST_MASTER_NODE_HOST", Default: "127.0.0.1", Arg: "HOST", Help: "host or address of the Locust master"},
		{Flag: "master-port", Env: "LOCUST_MASTER_NODE_PORT", Default: "5557", Arg: "PORT", Help: "port of the Locust master", Expect: "a TCP port, 1-65535"},
		{Flag: "master-timeout", Default: "60s", Arg: "DURATION", Help: "re-register after this long without heartbeats from a master that sends them (Locust 2.19+)",
			Expect: "a positive duration such as 60s"},
		{Flag: "host", Short: "H", Arg: "HOST", Help: "host to load; overrides the master's -H"},
		{Env: "LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP", Arg: "SECONDS", Default: "0",
			Help: "seconds to wait after a stop before reporting ready again (as Locust's workers)", Expect: "whole seconds, 0 or more"},
	}
}

func parseWorker(args []string, stdout, stderr io.Writer) (*workerOptions, error) {
	fs := newFlagSet("worker", "[options] [UserClass ...]",
		`Connects to a Locust master and runs the users it dispatches to the named user
classes (all of zkload's classes when none is named). The master's locustfile must
declare classes of the same names: see "zkload locustfile".`, stdout, stderr)
	fs.add(groupWorker, workerSettings()...)
	fs.add(groupCommon, commonSettings()...)
	addWorkloadSettings(fs)
	fs.add(groupStats, statsSettings()...)
	fs.add(groupMetrics, metricsSettings()...)
	fs.add(groupRunDir, reportDirSettings("this worker's extended statistics, ensemble metrics, output and run information, named by its node id (ext_stats_<id>.csv, ...; several workers may share it)")...)
	names, err := fs.parse(args)
	if err != nil {
		return nil, err
	}
	o := &workerOptions{host: fs.text("host"), command: append([]string{"zkload", "worker"}, redactArgs(args)...)}
	if o.nodeID, err = boomer.NewNodeID(); err != nil {
		return nil, err
	}
	hosts := fs.get("hosts")
	o.zkHosts = hosts.Text
	h := &o.harness
	if err := h.reportDir.parse(fs); err != nil {
		return nil, err
	}
	if d := h.reportDir.dir; d != "" {
		// Workers may share the directory: each names its files with its node id.
		tag := workerTag(o.nodeID)
		fs.setDefault("stats-collect", "1000")
		fs.setDefault("stats-csv", joinPath(d, rundir.Name(rundir.ExtStats, "", tag)))
		fs.setDefault("stats-distrib", joinPath(d, rundir.Name(rundir.ExtDistrib, "", tag)))
		if o.zkHosts != "" {
			fs.setDefault("zk-metrics-collect", "1000")
			fs.setDefault("zk-metrics-csv", joinPath(d, rundir.Name(rundir.ZKMetrics, "", tag)))
		}
	}
	if err := h.common.parse(fs); err != nil {
		return nil, err
	}
	o.masterHost = fs.text("master-host")
	if o.masterPort, err = fs.get("master-port").Port(); err != nil {
		return nil, fs.check(err)
	}
	if o.masterTimeout, err = fs.get("master-timeout").Duration(); err != nil {
		return nil, fs.check(err)
	}
	wait, err := fs.get("LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP").Int(0, 1<<31-1)
	if err != nil {
		return nil, fs.check(err)
	}
	o.waitAfterStop = time.Duration(wait) * time.Second
	if err := o.workload.parse(fs, names); err != nil {
		return nil, err
	}
	if err := h.metrics.parseWorker(fs, hosts); err != nil {
		return nil, err
	}
	if err := h.stats.parse(fs); err != nil {
		return nil, err
	}
	o.settings = flagSettings(fs)
	o.settings["classes"], o.settings["hosts"] = strings.Join(classNames(o.workload.classes), " "), o.zkHosts
	o.settings["master"] = fmt.Sprintf("%s:%d", o.masterHost, o.masterPort)
	return o, nil
}

func runWorker(args []string, stdout, stderr io.Writer) error {
	o, err := parseWorker(args, stdout, stderr)
	if err != nil {
		return err
	}
	return o.run(stdout, stderr)
}

// run connects to the master and runs what it dispatches until quit or a signal.
func (o *workerOptions) run(stdout, stderr io.Writer) error {
	var info *rundir.RunInfo
	var mine []string
	tag := workerTag(o.nodeID)
	if o.harness.reportDir.dir != "" {
		info = &rundir.RunInfo{Command: o.command, Start: rfc3339(time.Now()), Ensemble: o.zkHosts,
			Tests: classNames(o.workload.classes), Settings: o.settings, Versions: versions(o.zkHosts, false), NodeID: o.nodeID}
		mine = rundir.WorkerFiles(tag)
	}
	h, err := startHarness("worker", &o.harness, info, rundir.Name(rundir.WorkerInfo, "", tag), mine, stdout, stderr)
	if err != nil {
		return err
	}
	var w *boomer.Worker
	sink, err := h.newCollector(o.nodeID, func() int {
		if w == nil {
			return 0
		}
		return w.UserCount()
	})
	if err != nil {
		return err
	}
	w, err = boomer.NewWorker(boomer.WorkerOptions{
		NodeID: o.nodeID, Sink: sink, MasterHost: o.masterHost, MasterPort: o.masterPort,
		Classes: o.workload.classes, Host: o.host, Logger: h.log,
		MasterTimeout: o.masterTimeout, WaitAfterStop: o.waitAfterStop,
	})
	if err != nil {
		return h.fail(err)
	}
	ctx, stop := h.begin()
	defer stop()
	return h.finish(w.Run(ctx))
}

var tagRx = regexp.MustCompile(`[^A-Za-z0-9-]+`)

// workerTag makes a node id usable in file names: only letters, digits, "-" and "_".
func workerTag(nodeID string) string {
	host, id, _ := strings.Cut(nodeID, "_")
	if len(id) > 8 {
		id = id[:8]
	}
	tag := tagRx.ReplaceAllString(host, "-")
	if id != "" {
		tag += "_" + id
	}
	return tag
}
