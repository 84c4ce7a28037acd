package main

import (
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks/openloop"
)

// workerSettings are the worker's own settings: where its master is.
func workerSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "master-host", Env: "LOCUST_MASTER_NODE_HOST", Default: "127.0.0.1", Arg: "HOST", Help: "host or address of the Locust master",
			Expect: "a host name or IP address"},
		{Flag: "master-port", Env: "LOCUST_MASTER_NODE_PORT", Default: "5557", Arg: "PORT", Help: "port of the Locust master", Expect: "a TCP port, 1-65535"},
		{Flag: "master-timeout", Default: "60s", Arg: "DURATION", Help: "re-register after this long without heartbeats from a master that sends them (Locust 2.19+)",
			Expect: "a positive duration such as 60s"},
		{Flag: "host", Short: "H", Arg: "HOST", Help: "host to load; overrides the master's -H"},
		{Env: "LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP", Arg: "SECONDS", Default: "0",
			Help: "seconds to wait after a stop before reporting ready again (as Locust's workers)", Expect: "whole seconds, 0 or more"},
	}
}

// workerOptions are `zkload worker`'s options.
type workerOptions struct {
	harness       harnessOptions
	nodeID        string
	masterHost    string
	masterPort    int
	masterTimeout time.Duration
	waitAfterStop time.Duration
	host          string
	dispatch      dispatchOptions
	layers        setting.Layers // the worker's own settings, for each test's controller
}

func parseWorker(fs *flagSet, names []string) (*workerOptions, error) {
	o := &workerOptions{host: fs.text("host")}
	var err error
	if o.nodeID, err = boomer.NewNodeID(); err != nil {
		return nil, err
	}
	hosts := fs.get("hosts")
	o.harness.zkHosts = hosts.Text
	// Workers may share the run directory: each names its files with its node id.
	if err := o.harness.parse(fs, "worker", o.harness.zkHosts, workerTag(o.nodeID)); err != nil {
		return nil, err
	}
	if o.masterHost, err = masterHost(fs.get("master-host")); err != nil {
		return nil, fs.check(err)
	}
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
	// The worker's own load-control settings are checked now; a test's come with the
	// master's options.
	var ctl controlOptions
	if err := ctl.parse(fs.get, o.harness.reportDir.dir); err != nil {
		return nil, fs.fail("%v", err)
	}
	o.layers = fs.layers()
	o.harness.workload.plan = &openloop.Shared{} // one plan for every class: the fleet's controller steers it
	if err := o.harness.parseTest(fs, names, o.host, o.host != "", hosts); err != nil {
		return nil, err
	}
	if err := o.dispatch.parse(fs, o.harness.zkHosts, o.harness.reportDir.dir); err != nil {
		return nil, err
	}
	o.harness.settings["master"] = net.JoinHostPort(o.masterHost, strconv.Itoa(o.masterPort))
	return o, nil
}

// run connects to the master and runs what it dispatches until quit or a signal.
func (o *workerOptions) run(stdout, stderr io.Writer) error {
	var mine []string
	tag := workerTag(o.nodeID)
	info := o.harness.runInfo()
	if info != nil {
		info.NodeID = o.nodeID
		mine = rundir.WorkerFiles(tag)
		if o.dispatch.on() {
			mine = append(mine, rundir.Name(rundir.Faults, "", ""))
		}
	}
	h, err := startHarness(&o.harness, info, rundir.Name(rundir.WorkerInfo, "", tag), mine, stdout, stderr)
	if err != nil {
		return err
	}
	var w *boomer.Worker
	fw := newFleetWorker(o.nodeID, o.harness.workload.plan, o.layers, o.harness.reportDir.dir, h.metrics, h.log)
	sink, err := h.newCollector(o.nodeID, func() int {
		if w == nil {
			return 0
		}
		return w.UserCount()
	}, fw.onWindow)
	if err != nil {
		return err
	}
	opts := boomer.WorkerOptions{
		NodeID: o.nodeID, Sink: sink, MasterHost: o.masterHost, MasterPort: o.masterPort,
		Classes: o.harness.workload.classes, Host: o.host, Logger: h.log,
		MasterTimeout: o.masterTimeout, WaitAfterStop: o.waitAfterStop,
	}
	var wd *workerDispatch
	if o.dispatch.on() {
		// w is set before the worker runs, and the dispatcher sends during a test only.
		wd = newWorkerDispatch(&o.dispatch, func(typ string, data any) error {
			if !fw.relayed() {
				return nil // a master without zkload's relay has no page to show it on
			}
			return w.Send(typ, data)
		}, h.log)
	}
	// The users record into the extended statistics only when something reads them:
	// their files, the Prometheus endpoint, or the fleet's windows (the master's page and
	// controller), which exist only when the master runs zkload's relay.
	always := o.harness.stats.interval != 0 || h.prom != nil
	if !always {
		opts.Sink = nil
	}
	opts.BeforeTest = func(parsed map[string]any) {
		if fw.beforeTest(parsed) || always {
			w.SetSink(sink)
		} else {
			w.SetSink(nil)
		}
	}
	opts.OnTest = func(ev boomer.TestEvent) {
		if wd != nil {
			wd.onTest(ev)
		}
		fw.onTest(ev)
	}
	w, err = boomer.NewWorker(opts)
	if err != nil {
		if wd != nil {
			wd.close()
		}
		return h.fail(err)
	}
	if err := h.servePrometheus(o.nodeID, w.UserCounts); err != nil {
		if wd != nil {
			wd.close()
		}
		return err
	}
	fw.attach(w)
	ctx, stop := h.begin()
	defer stop()
	err = w.Run(ctx)
	fw.close()
	if l := fw.lastControl(); l != nil && h.info != nil {
		h.info.Control = l.result() // the hub's: the report reads it from worker_<tag>.json
	}
	if wd != nil {
		wd.close() // the members it took out are back before the worker says it is done
	}
	return h.finish(err)
}

// hostNameRx is what a host name may hold (letters, digits, "-", "_" and dots).
var hostNameRx = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$`)

// masterHost checks --master-host: a host name or an IP address (an IPv6 one with or
// without brackets), never empty, never with a port or a scheme. Whether the name
// resolves is the worker's business: it says so, and retries (doc/multi-host.md).
func masterHost(v setting.Value) (string, error) {
	h := strings.TrimSpace(v.Text)
	if h == "" {
		return "", v.Errorf("want a host name or IP address, not an empty one")
	}
	if strings.Contains(h, "://") {
		return "", v.Errorf("want a host name or IP address, not a URL")
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
		return ip.Unmap().String(), nil
	}
	if _, port, err := net.SplitHostPort(h); err == nil {
		portName := "--master-port"
		if v.Source == setting.FromEnv {
			portName = "LOCUST_MASTER_NODE_PORT"
		}
		return "", v.Errorf("want a host name or IP address without a port; give port %s with %s", port, portName)
	}
	if len(h) > 253 || !hostNameRx.MatchString(h) {
		return "", v.Bad()
	}
	return h, nil
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
