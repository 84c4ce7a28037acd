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

	"github.com/zkload/zkload/stats/ensemble"
)

// metricsFlags are the ensemble-metrics settings (see doc/metrics.md), shared by
// `zkload metrics` and the worker's --zk-metrics-* flags.
type metricsFlags struct {
	collect   string // interval: milliseconds, or a duration
	csv       string
	source    string
	adminPort string
	promPort  string
	timeout   time.Duration
	// the names of the source, AdminServer port and Prometheus port flags
	srcFlag, adminFlag, promFlag string
}

// registerWorker defines the worker's flags, named as zk-locust's.
func (m *metricsFlags) registerWorker(fs *flagSet) {
	fs.StringVar(&m.collect, "zk-metrics-collect", "", "ensemble metrics: poll every member every MS milliseconds, written to --zk-metrics-csv; needs --hosts (env ZK_LOCUST_ZK_METRICS_COLLECT; see doc/metrics.md)")
	fs.StringVar(&m.csv, "zk-metrics-csv", "", "ensemble metrics: long-form CSV file (env ZK_LOCUST_ZK_METRICS_CSV)")
	fs.StringVar(&m.source, "zk-metrics-source", "auto", "ensemble metrics: auto, admin (AdminServer monitor), mntr or prometheus")
	fs.StringVar(&m.adminPort, "zk-admin-port", strconv.Itoa(ensemble.DefaultAdminPort), "ensemble metrics: AdminServer port, one for all members or one per member: 8080,8081,... (env ZK_ADMIN_PORT)")
	fs.StringVar(&m.promPort, "zk-prometheus-port", strconv.Itoa(ensemble.DefaultPrometheusPort), "ensemble metrics: Prometheus provider port, one for all members or one per member")
	m.timeout = 2 * time.Second
	m.srcFlag, m.adminFlag, m.promFlag = "zk-metrics-source", "zk-admin-port", "zk-prometheus-port"
}

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
}

// metricsInterval parses the interval flag: whole milliseconds (zk-locust) or a Go duration.
func metricsInterval(fs *flagSet, what, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if ms, err := strconv.Atoi(v); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	if v == "web" {
		return 0, fs.fail("%s %q: zkload has no metrics web page; want milliseconds such as 2000", what, v)
	}
	return 0, fs.fail("%s %q: want milliseconds such as 2000, or a duration such as 2s", what, v)
}

// setup validates the settings and opens the CSV (stdout when csvPath is "-"). hosts
// is the connect string and hostsWhat names where it came from, for errors.
func (m *metricsFlags) setup(fs *flagSet, interval time.Duration, hosts, hostsWhat, csvPath, csvWhat string, stdout io.Writer) (*metricsPoll, error) {
	src, err := ensemble.ParseSource(m.source)
	if err != nil {
		return nil, fs.fail("--%s %q: want auto, admin, mntr or prometheus", m.srcFlag, m.source)
	}
	adminWhat := "--" + m.adminFlag
	admin := envOr(fs, m.adminFlag, "ZK_ADMIN_PORT", m.adminPort)
	if !fs.set(m.adminFlag) && os.Getenv("ZK_ADMIN_PORT") != "" {
		adminWhat = "ZK_ADMIN_PORT"
	}
	ap, err := ensemble.ParsePorts(admin)
	if err != nil {
		return nil, fs.fail("%s %q: want a port, or one port per member: 8080 or 8080,8081,8082", adminWhat, admin)
	}
	pp, err := ensemble.ParsePorts(m.promPort)
	if err != nil {
		return nil, fs.fail("--%s %q: want a port, or one port per member: 7000 or 7000,7001,7002", m.promFlag, m.promPort)
	}
	if strings.TrimSpace(hosts) == "" {
		return nil, fs.fail("%s: no ensemble; want --hosts host:port[,host:port...] (or ZK_LOCUST_HOSTS)", hostsWhat)
	}
	if _, err := ensemble.Members(hosts, nil, nil); err != nil {
		return nil, fs.fail("%s %q: %v; want host:port[,host:port...][/chroot]", hostsWhat, hosts, metricsTrimConnect(err, hosts))
	}
	if _, err := ensemble.Members(hosts, ap, nil); err != nil {
		return nil, fs.fail("%s %q: %v", adminWhat, admin, err)
	}
	members, err := ensemble.Members(hosts, ap, pp)
	if err != nil {
		return nil, fs.fail("--%s %q: %v", m.promFlag, m.promPort, err)
	}
	if m.timeout <= 0 {
		return nil, fs.fail("--timeout %s: want a positive duration such as 2s", m.timeout)
	}
	p, err := ensemble.NewPoller(ensemble.Options{Members: members, Source: src, Timeout: min(m.timeout, interval)})
	if err != nil {
		return nil, fs.fail("%v", err)
	}
	mp := &metricsPoll{poller: p, interval: interval}
	var out io.Writer = stdout
	if csvPath != "-" {
		f, err := os.Create(csvPath)
		if err != nil {
			p.Close()
			return nil, fs.fail("%s %q: %v", csvWhat, csvPath, err)
		}
		mp.file, out = f, f
	}
	if mp.writer, err = ensemble.NewCSVWriter(out); err != nil {
		mp.closeFile()
		p.Close()
		return nil, err
	}
	return mp, nil
}

// metricsTrimConnect drops the connect string that errors of ensemble.Members repeat.
func metricsTrimConnect(err error, hosts string) string {
	return strings.TrimPrefix(err.Error(), fmt.Sprintf("connect string %q: ", hosts))
}

func (mp *metricsPoll) closeFile() error {
	if mp.file == nil {
		return nil
	}
	err := mp.file.Close()
	mp.file = nil
	return err
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

// workerMetrics starts the worker's ensemble polling when --zk-metrics-collect (or
// ZK_LOCUST_ZK_METRICS_COLLECT) is set; it returns nil when off. hosts is the worker's
// own --hosts/ZK_LOCUST_HOSTS: the master's settings arrive only with its spawn.
func (m *metricsFlags) workerMetrics(fs *flagSet, hosts string, log *slog.Logger) (*metricsPoll, error) {
	collect := envOr(fs, "zk-metrics-collect", "ZK_LOCUST_ZK_METRICS_COLLECT", m.collect)
	csvPath := envOr(fs, "zk-metrics-csv", "ZK_LOCUST_ZK_METRICS_CSV", m.csv)
	what := "--zk-metrics-collect"
	if !fs.set("zk-metrics-collect") && os.Getenv("ZK_LOCUST_ZK_METRICS_COLLECT") != "" {
		what = "ZK_LOCUST_ZK_METRICS_COLLECT"
	}
	if strings.TrimSpace(collect) == "" || strings.TrimSpace(collect) == "0" {
		if fs.set("zk-metrics-csv") {
			return nil, fs.fail("--zk-metrics-csv needs --zk-metrics-collect MS (or ZK_LOCUST_ZK_METRICS_COLLECT)")
		}
		return nil, nil
	}
	interval, err := metricsInterval(fs, what, collect)
	if err != nil {
		return nil, err
	}
	if csvPath == "" {
		return nil, fs.fail("%s %s: give --zk-metrics-csv FILE (or ZK_LOCUST_ZK_METRICS_CSV)", what, collect)
	}
	if strings.TrimSpace(hosts) == "" {
		return nil, fs.fail("%s %s: no ensemble to poll; give the worker --hosts host:port[,host:port...] or ZK_LOCUST_HOSTS (the master's hosts arrive only with its spawn)", what, collect)
	}
	hostsWhat := "--hosts"
	if !fs.set("hosts") {
		hostsWhat = "ZK_LOCUST_HOSTS"
	}
	mp, err := m.setup(fs, interval, hosts, hostsWhat, csvPath, "--zk-metrics-csv", nil)
	if err != nil {
		return nil, err
	}
	var pr metricsProgress
	mp.start(func(s []ensemble.Sample) {
		if line, ok := pr.line(s, mp.writer.Rows()); ok {
			log.Info("ensemble metrics " + line)
		}
	})
	log.Info("ensemble metrics", "members", len(mp.poller.Members()), "interval", interval, "csv", csvPath)
	return mp, nil
}

func runMetrics(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("metrics", "[flags]",
		`Polls every member of a ZooKeeper ensemble at an interval and writes their metrics
to a long-form CSV (timestamp,host_port,server_state,metric,value): every key of
every member, counters also as <metric>_per_sec rates, and an error row for a member
that does not answer. Sources: the AdminServer's /commands/monitor, mntr on the
client port, or the Prometheus provider's /metrics; auto tries them in that order.
A progress line per change goes to stderr. Stops on SIGINT/SIGTERM or after --run-time.
See doc/metrics.md.

Environment: ZK_LOCUST_HOSTS, ZK_LOCUST_ZK_METRICS_COLLECT, ZK_LOCUST_ZK_METRICS_CSV,
ZK_ADMIN_PORT.`, stdout, stderr)
	var (
		m       metricsFlags
		hosts   string
		runTime string
	)
	fs.StringVar(&hosts, "hosts", "", "the ensemble: host:port[,host:port...][/chroot] (env ZK_LOCUST_HOSTS)")
	fs.StringVar(&m.collect, "interval", "2000", "poll every this many milliseconds (or a duration such as 2s) (env ZK_LOCUST_ZK_METRICS_COLLECT)")
	fs.StringVar(&m.collect, "zk-metrics-collect", "2000", "same as --interval, as zk-locust names it")
	fs.StringVar(&m.csv, "csv", "-", "CSV file, - for stdout (env ZK_LOCUST_ZK_METRICS_CSV)")
	fs.StringVar(&m.csv, "zk-metrics-csv", "-", "same as --csv, as zk-locust names it")
	fs.StringVar(&m.source, "source", "auto", "auto, admin (AdminServer monitor), mntr or prometheus")
	fs.StringVar(&m.adminPort, "admin-port", strconv.Itoa(ensemble.DefaultAdminPort), "AdminServer port, one for all members or one per member in --hosts order: 8080,8081,... (env ZK_ADMIN_PORT)")
	fs.StringVar(&m.promPort, "prometheus-port", strconv.Itoa(ensemble.DefaultPrometheusPort), "Prometheus provider port (metricsProvider.httpPort), one for all members or one per member")
	m.srcFlag, m.adminFlag, m.promFlag = "source", "admin-port", "prometheus-port"
	fs.DurationVar(&m.timeout, "timeout", 2*time.Second, "how long one member may take to answer a poll (at most the interval)")
	fs.StringVar(&runTime, "run-time", "", "stop after this long: 90s, 10m, 1h30m or seconds (default: until SIGINT/SIGTERM)")
	fs.StringVar(&runTime, "t", "", "short for --run-time")
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fs.fail("unexpected argument %q: metrics takes only flags", pos[0])
	}
	collectFlag := "--interval"
	if fs.set("zk-metrics-collect") {
		collectFlag = "--zk-metrics-collect"
	}
	collectSet := fs.set("interval") || fs.set("zk-metrics-collect")
	collect := m.collect
	if v := os.Getenv("ZK_LOCUST_ZK_METRICS_COLLECT"); !collectSet && v != "" {
		collect, collectFlag = v, "ZK_LOCUST_ZK_METRICS_COLLECT"
	}
	interval, err := metricsInterval(fs, collectFlag, collect)
	if err != nil {
		return err
	}
	csvPath, csvWhat := m.csv, "--csv"
	if fs.set("zk-metrics-csv") {
		csvWhat = "--zk-metrics-csv"
	}
	if v := os.Getenv("ZK_LOCUST_ZK_METRICS_CSV"); !fs.set("csv") && !fs.set("zk-metrics-csv") && v != "" {
		csvPath, csvWhat = v, "ZK_LOCUST_ZK_METRICS_CSV"
	}
	var limit time.Duration
	if runTime != "" {
		if limit, err = metricsRunTime(runTime); err != nil {
			return fs.fail("--run-time %q: want a duration such as 90s, 10m or 1h30m, or whole seconds", runTime)
		}
	}
	h := envOr(fs, "hosts", "ZK_LOCUST_HOSTS", hosts)
	hostsWhat := "--hosts"
	if !fs.set("hosts") && h != "" {
		hostsWhat = "ZK_LOCUST_HOSTS"
	}
	mp, err := m.setup(fs, interval, h, hostsWhat, csvPath, csvWhat, stdout)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	fmt.Fprintf(stderr, "zkload metrics: polling %d member(s) every %s (source %s), CSV to %s\n",
		len(mp.poller.Members()), interval, m.source, metricsCSVName(csvPath))
	var pr metricsProgress
	mp.start(func(s []ensemble.Sample) {
		if line, ok := pr.line(s, mp.writer.Rows()); ok {
			fmt.Fprintf(stderr, "zkload metrics: %s\n", line)
		}
	})
	<-ctx.Done()
	err = mp.stop()
	fmt.Fprintf(stderr, "zkload metrics: stopped after %d poll(s), %d rows\n", pr.polls, mp.writer.Rows())
	return err
}

func metricsCSVName(p string) string {
	if p == "-" {
		return "stdout"
	}
	return p
}

// metricsRunTime parses a run time as Locust's -t: a duration (90s, 10m, 1h30m) or whole
// seconds.
func metricsRunTime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("bad run time %q", s)
	}
	return d, nil
}
