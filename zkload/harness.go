package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zkload/zkload/record"
	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats"
)

// harnessOptions are what `zkload run` and `zkload worker` both set up around their
// users.
type harnessOptions struct {
	cmd       string // "run" or "worker"
	common    commonOptions
	stats     statsOptions
	metrics   metricsOptions
	reportDir reportDirOptions
	workload  workloadOptions
	prom      promOptions
	zkHosts   string            // the ensemble the command knows of itself ("" if none)
	settings  map[string]string // for run.json
	command   []string          // for run.json, secrets redacted
}

// defineHarness adds what run and worker share: logging, the workloads, extended
// statistics, ensemble metrics and the run directory (whose help says what it holds).
func defineHarness(fs *flagSet, reportDirWhat string) {
	fs.add(groupCommon, commonSettings()...)
	addWorkloadSettings(fs)
	fs.add(groupStats, statsSettings()...)
	fs.add(groupStats, promSettings()...)
	fs.add(groupMetrics, metricsSettings()...)
	fs.add(groupRunDir, reportDirSettings(reportDirWhat)...)
}

// parse reads the run directory and logging settings. With a run directory, every
// output goes into it unless given elsewhere: the extended statistics and the
// ensemble's metrics (when the ensemble is known), named for the worker (tag; "" for
// zkload run, whose directory is its own).
func (o *harnessOptions) parse(fs *flagSet, cmd, zkHosts, tag string) error {
	o.cmd, o.zkHosts = cmd, zkHosts
	o.command = append([]string{"zkload", cmd}, redactArgs(fs.args)...)
	if err := o.reportDir.parse(fs); err != nil {
		return err
	}
	if d := o.reportDir.dir; d != "" {
		fs.setDefault("stats-collect", "1000")
		fs.setDefault("stats-csv", filepath.Join(d, rundir.Name(rundir.ExtStats, "", tag)))
		fs.setDefault("stats-distrib", filepath.Join(d, rundir.Name(rundir.ExtDistrib, "", tag)))
		if zkHosts != "" {
			fs.setDefault("zk-metrics-collect", "1000")
			fs.setDefault("zk-metrics-csv", filepath.Join(d, rundir.Name(rundir.ZKMetrics, "", tag)))
		}
	}
	return o.common.parse(fs)
}

// parseTest reads the user classes (named on the command line) and checks host against
// them (unless checkHost is false: a worker's host may come from the master), then the
// extended statistics and ensemble metrics settings; hosts is the ensemble the command
// knows of itself (--hosts, ZK_LOCUST_HOSTS). It fills the settings for run.json.
func (o *harnessOptions) parseTest(fs *flagSet, names []string, host string, checkHost bool, hosts setting.Value) error {
	if err := o.workload.parse(fs, names); err != nil {
		return err
	}
	if checkHost {
		if err := o.workload.checkHost(fs, host); err != nil {
			return err
		}
	}
	if err := o.metrics.parseWorker(fs, hosts); err != nil {
		return err
	}
	if err := o.stats.parse(fs); err != nil {
		return err
	}
	if err := o.prom.parse(fs); err != nil {
		return err
	}
	o.settings = flagSettings(fs)
	o.settings["classes"], o.settings["hosts"] = strings.Join(classNames(o.workload.classes), " "), o.zkHosts
	return nil
}

// runInfo is the run information the command starts with, nil without a run directory.
func (o *harnessOptions) runInfo() *rundir.RunInfo {
	if o.reportDir.dir == "" {
		return nil
	}
	return &rundir.RunInfo{Command: o.command, Start: rfc3339(time.Now()), Ensemble: o.zkHosts,
		Tests: classNames(o.workload.classes), Settings: o.settings, Versions: versions(o.zkHosts, false)}
}

// harness is the set-up that `zkload run` and `zkload worker` share: logging (copied
// into the run directory), the CPU profile, the run directory and its run
// information, extended statistics, the ensemble's metrics and signals. finish ends
// them all, in order, and records the exit code.
type harness struct {
	opts           *harnessOptions
	stdout, stderr io.Writer
	log            *slog.Logger

	// The run directory, when --report-dir is set.
	info     *rundir.RunInfo
	infoPath string
	mine     []string // the files this command writes there (nil: the whole directory)
	existed  bool     // the directory existed before (for undo)
	wasEmpty bool
	logFile  *os.File

	stopProfile func()
	collector   *stats.Collector
	metrics     *metricsPoll
	prom        *promServer // --prometheus: listening from the start, serving from servePrometheus
	// ran is set once the users started: from then on the directory is kept.
	ran bool
	// afterInfo runs once the final run information is written, before the log copy
	// closes (the run's report).
	afterInfo func()
}

// startHarness prepares the run directory (info is its run information, written at
// once and again at the end; infoName its file name; mine the names this command
// writes, nil for a directory of its own), the log, the CPU profile and the ensemble
// poll. Its errors are usage errors (exit code 2): nothing has run yet.
func startHarness(o *harnessOptions, info *rundir.RunInfo, infoName string, mine []string, stdout, stderr io.Writer) (*harness, error) {
	cmd := o.cmd
	h := &harness{opts: o, stdout: stdout, stderr: stderr, info: info, mine: mine, stopProfile: func() {}}
	if o.reportDir.dir != "" {
		if err := h.prepareDir(); err != nil {
			return nil, err
		}
		h.infoPath = filepath.Join(o.reportDir.dir, infoName)
		logName := rundir.RunLog
		if mine != nil {
			logName = rundir.Name(rundir.Log, "", workerTag(info.NodeID))
		}
		f, err := os.Create(filepath.Join(o.reportDir.dir, logName))
		if err != nil {
			return nil, h.fail(fmt.Errorf("--report-dir %q: %w", o.reportDir.dir, err))
		}
		h.logFile = f
		both := &syncWriter{w: f}
		h.stdout, h.stderr = io.MultiWriter(stdout, both), io.MultiWriter(stderr, both)
		if err := h.info.Write(h.infoPath); err != nil {
			return nil, h.fail(fmt.Errorf("--report-dir %q: %w", o.reportDir.dir, err))
		}
	}
	h.log = slog.New(slog.NewTextHandler(h.stderr, &slog.HandlerOptions{Level: o.common.logLevel}))
	for _, n := range o.workload.notes {
		h.log.Warn(n)
	}
	ps, err := listenPrometheus(&o.prom)
	if err != nil {
		return nil, h.fail(err)
	}
	h.prom = ps
	if p := o.common.cpuProfile; p != "" {
		f, err := os.Create(p)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			return nil, h.fail(fmt.Errorf("--cpu-profile %q: %w", p, err))
		}
		h.stopProfile = func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(h.stderr, "zkload %s: --cpu-profile %q: %v\n", cmd, p, err)
			}
		}
	}
	if o.metrics.interval > 0 {
		mp, err := startMetrics(&o.metrics, nil, func(line string) { h.log.Info("ensemble metrics " + line) })
		if err != nil {
			return nil, h.fail(err)
		}
		h.metrics = mp
		h.log.Info("ensemble metrics", "members", len(o.metrics.members), "interval", o.metrics.interval, "csv", o.metrics.csv)
	}
	return h, nil
}

// fail undoes what a start that did not get to run left behind, and reports err as a
// usage error.
func (h *harness) fail(err error) error {
	h.stopProfile()
	h.stopProfile = func() {}
	if h.log != nil {
		h.stopSources()
	}
	h.prom.stop()
	if h.logFile != nil {
		h.logFile.Close()
	}
	h.undo()
	fmt.Fprintf(h.stderr, "zkload %s: %v\n", h.opts.cmd, err)
	return errUsage
}

// prepareDir creates the run directory. A command with a directory of its own (mine
// nil) refuses one holding anything; a worker, which shares it, refuses one holding
// any of its own files or a finished run's run.json. --force allows both.
func (h *harness) prepareDir() error {
	dir := h.opts.reportDir.dir
	if entries, err := os.ReadDir(dir); err == nil {
		h.existed, h.wasEmpty = true, len(entries) == 0
	} else if errors.Is(err, os.ErrNotExist) {
		h.wasEmpty = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return h.fail(fmt.Errorf("--report-dir %q: %w", dir, err))
	}
	if h.opts.reportDir.force {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return h.fail(fmt.Errorf("--report-dir %q: %w", dir, err))
	}
	if h.mine == nil {
		if len(entries) > 0 {
			return h.fail(fmt.Errorf("--report-dir %q is not empty (%d entries, e.g. %s); give an empty or new directory, or --force to overwrite", dir, len(entries), entries[0].Name()))
		}
		return nil
	}
	for _, e := range entries {
		for _, n := range append(h.mine, rundir.Info) {
			if e.Name() == n {
				h.existed, h.wasEmpty = true, false // keep what is there
				return h.fail(fmt.Errorf("--report-dir %q already holds %s; give another directory, or --force to overwrite", dir, n))
			}
		}
	}
	return nil
}

// undo removes what a command that did not run left in its directory: a worker its own
// files; a run everything, when the directory was new or empty (so that a corrected
// command may use it without --force).
func (h *harness) undo() {
	dir := h.opts.reportDir.dir
	if dir == "" {
		return
	}
	if h.mine != nil {
		for _, n := range h.mine {
			os.Remove(filepath.Join(dir, n))
		}
		if !h.existed {
			os.Remove(dir) // only if empty
		}
		return
	}
	if !h.wasEmpty {
		return
	}
	if !h.existed {
		os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// newCollector starts the extended statistics when they are on, or in memory only for
// --prometheus or a load controller (nil sink otherwise); users gives the running user
// count for each row; onWindow, if set, sees every window (the load controller).
func (h *harness) newCollector(clientID string, users func() int, onWindow func(stats.Window)) (record.Sink, error) {
	o := h.opts.stats
	inMemory := o.interval == 0 && (h.prom != nil || onWindow != nil)
	if inMemory {
		o.interval = promInterval
	}
	if o.interval == 0 {
		return nil, nil
	}
	c, err := stats.New(stats.Options{Interval: o.interval, CSVPath: o.csv, DistribPath: o.distrib, InMemory: inMemory,
		ClientID: clientID, Users: users, Logger: h.log, OnWindow: onWindow})
	if err != nil {
		what := "extended stats"
		var pe *os.PathError
		if errors.As(err, &pe) {
			what = map[bool]string{true: o.csvWhat, false: o.distribWhat}[pe.Path == o.csv]
			err = pe
		}
		return nil, h.fail(fmt.Errorf("%s: %w", what, err))
	}
	h.collector = c
	c.Start(context.Background()) // stopped by finish, after the final report
	return c, nil
}

// begin marks the start of the run: from now on the directory is kept, whatever
// happens. It returns the context that SIGINT or SIGTERM cancels, so that the command
// can finish cleanly (final stats, flushed files); a second signal ends the process at
// once.
func (h *harness) begin() (context.Context, context.CancelFunc) {
	h.ran = true
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// The second signal's handler goes in before the first one's comes out: in
		// between, a SIGTERM would kill the process without its final files.
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		stop()
		<-again
		fmt.Fprintf(h.stderr, "zkload %s: second signal, exiting now\n", h.opts.cmd)
		os.Exit(1)
	}()
	return ctx, stop
}

// stopSources stops the ensemble poll and closes the extended statistics (after the
// users' last report), flushing both; their error, if any, is logged and returned.
func (h *harness) stopSources() error {
	h.metrics.stopLogging(h.log)
	if h.collector == nil {
		return nil
	}
	err := h.collector.Close()
	h.collector = nil
	if err != nil {
		h.log.Error("extended stats", "err", err)
		return fmt.Errorf("extended stats: %w", err)
	}
	return nil
}

// finish ends everything the harness started and records err's exit code in the run
// information; it returns err, or the first error of finishing.
func (h *harness) finish(err error) error {
	if serr := h.stopSources(); err == nil {
		err = serr
	}
	if perr := h.prom.stop(); perr != nil {
		h.log.Error("prometheus endpoint", "err", perr)
	}
	h.stopProfile()
	h.stopProfile = func() {}
	if h.info != nil && h.infoPath != "" {
		h.info.End = rfc3339(time.Now())
		code := exitCode(err)
		h.info.Exit = &code
		if werr := h.info.Write(h.infoPath); werr != nil {
			fmt.Fprintf(h.stderr, "zkload %s: --report-dir: %v\n", h.opts.cmd, werr)
		}
	}
	if h.afterInfo != nil && h.ran {
		h.afterInfo()
	}
	if h.logFile != nil {
		h.logFile.Close()
	}
	return err
}

// syncWriter serializes writes: the log copy gets both stdout and stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
