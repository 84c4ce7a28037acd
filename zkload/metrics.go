package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats/ensemble"
)

// metricsPoll is a running poll of the ensemble, stopped by stop.
type metricsPoll struct {
	poller   *ensemble.Poller
	writer   *ensemble.CSVWriter
	file     *os.File
	interval time.Duration
	cancel   context.CancelFunc
	done     chan error
	once     sync.Once
	err      error
	logged   atomic.Bool // stopLogging reported the error
	progress *metricsProgress
	last     atomic.Pointer[[]ensemble.Sample] // the last poll, for --prometheus and the load controller
}

func (mp *metricsPoll) closeFile() error {
	if mp.file == nil {
		return nil
	}
	err := mp.file.Close()
	mp.file = nil
	return err
}

// startMetrics opens the CSV (stdout when o.csv is "-") and polls the ensemble in the
// background until stop; progress gets a line when the members' state changes.
func startMetrics(o *metricsOptions, stdout io.Writer, progress func(line string)) (*metricsPoll, error) {
	p, err := ensemble.NewPoller(ensemble.Options{Members: o.members, Source: o.source, Timeout: min(o.timeout, o.interval)})
	if err != nil {
		return nil, err
	}
	mp := &metricsPoll{poller: p, interval: o.interval}
	out := stdout
	if o.csv != "-" {
		f, err := os.Create(o.csv)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("%s %q: %w", o.csvWhat, o.csv, err)
		}
		mp.file, out = f, f
	}
	if mp.writer, err = ensemble.NewCSVWriter(out); err != nil {
		mp.closeFile()
		p.Close()
		return nil, fmt.Errorf("%s %q: %w", o.csvWhat, o.csv, err)
	}
	var pr metricsProgress
	mp.progress = &pr
	mp.start(func(s []ensemble.Sample) {
		mp.last.Store(&s)
		if line, ok := pr.line(s, mp.writer.Rows()); ok {
			progress(line)
		}
	})
	return mp, nil
}

// start polls in the background until stop; onPoll sees every poll (progress).
func (mp *metricsPoll) start(onPoll func([]ensemble.Sample)) {
	ctx, cancel := context.WithCancel(context.Background())
	mp.cancel = cancel
	mp.done = make(chan error, 1)
	go func() { mp.done <- ensemble.Run(ctx, mp.poller, mp.writer, mp.interval, onPoll) }()
}

// stop ends the polling, waits for the poll in flight and closes the CSV (every poll
// was flushed already). It may be called more than once, and on nil.
// stopLogging stops the poll and logs a failure to finish the file, once however often
// it is called (a command stops it explicitly and again in a defer for early returns).
func (mp *metricsPoll) stopLogging(log *slog.Logger) {
	if err := mp.stop(); err != nil && mp != nil && !mp.logged.Swap(true) {
		log.Error("ensemble metrics", "err", err)
	}
}

func (mp *metricsPoll) stop() error {
	if mp == nil {
		return nil
	}
	mp.once.Do(func() {
		if mp.cancel != nil {
			mp.cancel()
			mp.err = <-mp.done
		}
		mp.poller.Close()
		if err := mp.closeFile(); err != nil && mp.err == nil {
			mp.err = fmt.Errorf("close metrics csv: %w", err)
		}
	})
	return mp.err
}

// metricsProgress summarizes polls for humans: every member's state or error. It reports a
// line when the summary changes, and at least every 10 s.
type metricsProgress struct {
	last    string
	lastAt  time.Time
	polls   int
	started time.Time
}

func (p *metricsProgress) line(samples []ensemble.Sample, rows int) (string, bool) {
	p.polls++
	if p.started.IsZero() {
		p.started = time.Now()
	}
	var parts []string
	for _, s := range samples {
		switch {
		case s.Err != nil:
			parts = append(parts, fmt.Sprintf("%s error: %s", s.HostPort, metricsShorten(s.Err.Error(), 100)))
		default:
			state := s.State
			if state == "" {
				state = "up"
			}
			parts = append(parts, fmt.Sprintf("%s %s (%s, %d metrics)", s.HostPort, state, s.Source, len(s.Metrics)))
		}
	}
	summary := strings.Join(parts, "; ")
	if summary == p.last && time.Since(p.lastAt) < 10*time.Second {
		return "", false
	}
	p.last, p.lastAt = summary, time.Now()
	return fmt.Sprintf("poll %d (%s, %d rows): %s", p.polls, time.Since(p.started).Round(time.Second), rows, summary), true
}

func metricsShorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// metricsOpts are `zkload metrics`'s options.
type metricsOpts struct {
	metrics metricsOptions
	runTime time.Duration // 0: until a signal
}

func metricsCommandSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "hosts", Env: "ZK_LOCUST_HOSTS", Arg: "HOSTS", Help: "the ensemble: host:port[,host:port...][/chroot]"},
		{Flag: "interval", Env: "ZK_LOCUST_ZK_METRICS_COLLECT", Default: "2000", Arg: "MS",
			Help: "poll every this many milliseconds (or a duration such as 2s)", Expect: "milliseconds such as 2000, or a duration such as 2s"},
		{Flag: "zk-metrics-collect", Arg: "MS", Help: "same as --interval, as zk-locust names it", Expect: "milliseconds such as 2000, or a duration such as 2s"},
		{Flag: "csv", Env: "ZK_LOCUST_ZK_METRICS_CSV", Default: "-", Arg: "FILE", Help: "CSV file, - for stdout"},
		{Flag: "zk-metrics-csv", Arg: "FILE", Help: "same as --csv, as zk-locust names it"},
		{Flag: "source", Default: "auto", Arg: "SOURCE", Help: "auto, admin (AdminServer monitor), mntr or prometheus", Expect: "auto, admin, mntr or prometheus"},
		{Flag: "admin-port", Env: "ZK_ADMIN_PORT", Default: strconv.Itoa(ensemble.DefaultAdminPort), Arg: "PORT[,PORT...]",
			Help: "AdminServer port, one for all members or one per member in --hosts order: 8080,8081,...", Expect: "a port, or one port per member: 8080 or 8080,8081,8082"},
		{Flag: "prometheus-port", Default: strconv.Itoa(ensemble.DefaultPrometheusPort), Arg: "PORT[,PORT...]",
			Help: "Prometheus provider port (metricsProvider.httpPort), one for all members or one per member", Expect: "a port, or one port per member: 7000 or 7000,7001,7002"},
		{Flag: "timeout", Default: "2s", Arg: "DURATION", Help: "how long one member may take to answer a poll (at most the interval)", Expect: "a positive duration such as 2s"},
		{Flag: "run-time", Short: "t", Arg: "TIME", Help: "stop after this long: 90s, 10m, 1h30m or seconds (default: until SIGINT/SIGTERM)",
			Expect: "a duration such as 90s, 10m or 1h30m, or whole seconds"},
	}
}

func parseMetrics(fs *flagSet, _ []string) (*metricsOpts, error) {
	o := &metricsOpts{}
	var err error
	// zk-locust's names win over ours when given; the environment counts only when
	// neither flag is.
	collect := fs.get("interval")
	if fs.set("zk-metrics-collect") {
		collect = fs.get("zk-metrics-collect")
	}
	if o.metrics.interval, err = parseInterval(collect); err != nil {
		return nil, fs.check(err)
	}
	csv := fs.get("csv")
	if fs.set("zk-metrics-csv") {
		csv = fs.get("zk-metrics-csv")
	}
	o.metrics.csv, o.metrics.csvWhat = csv.Text, csv.Name()
	if rt := fs.get("run-time"); rt.Text != "" {
		if o.runTime, err = parseTimespan(rt.Text); err != nil || o.runTime <= 0 {
			return nil, fs.check(rt.Bad())
		}
	}
	if err := o.metrics.parseEnsemble(fs, fs.get("hosts"), "source", "admin-port", "prometheus-port"); err != nil {
		return nil, err
	}
	to := fs.get("timeout")
	if o.metrics.timeout, err = to.Duration(); err != nil {
		return nil, fs.check(err)
	}
	return o, nil
}

// run polls until a signal or the run time.
func (o *metricsOpts) run(stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.runTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.runTime)
		defer cancel()
	}
	mp, err := startMetrics(&o.metrics, stdout, func(line string) { fmt.Fprintf(stderr, "zkload metrics: %s\n", line) })
	if err != nil {
		fmt.Fprintf(stderr, "zkload metrics: %v\n", err)
		return errUsage
	}
	fmt.Fprintf(stderr, "zkload metrics: polling %d member(s) every %s (source %s), CSV to %s\n",
		len(o.metrics.members), o.metrics.interval, o.metrics.sourceText, metricsCSVName(o.metrics.csv))
	<-ctx.Done()
	err = mp.stop()
	fmt.Fprintf(stderr, "zkload metrics: stopped after %d poll(s), %d rows\n", mp.progress.polls, mp.writer.Rows())
	return err
}

func metricsCSVName(p string) string {
	if p == "-" {
		return "stdout"
	}
	return p
}
