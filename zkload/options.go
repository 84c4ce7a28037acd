package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats/ensemble"
)

// The options that several commands share, each group with its settings (flags,
// environment variables, defaults) and a parse that turns them into an options struct.

// commonOptions are logging and profiling.
type commonOptions struct {
	logLevel   slog.Level
	cpuProfile string
}

func commonSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "loglevel", Short: "L", Default: "INFO", Arg: "LEVEL", Help: "log level: DEBUG, INFO, WARNING or ERROR",
			Expect: "DEBUG, INFO, WARNING or ERROR"},
		{Flag: "cpu-profile", Arg: "FILE", Help: "write a Go CPU profile of this process to FILE (read it with go tool pprof)"},
	}
}

func (o *commonOptions) parse(fs *flagSet) error {
	v := fs.get("loglevel")
	switch strings.ToUpper(v.Text) {
	case "DEBUG":
		o.logLevel = slog.LevelDebug
	case "INFO":
		o.logLevel = slog.LevelInfo
	case "WARNING", "WARN":
		o.logLevel = slog.LevelWarn
	case "ERROR", "CRITICAL":
		o.logLevel = slog.LevelError
	default:
		return fs.check(v.Bad())
	}
	o.cpuProfile = fs.text("cpu-profile")
	return nil
}

// statsOptions are the extended statistics, named as zk-locust's (locust_extra/stats.py):
// on when the interval is positive and at least one output file is set.
type statsOptions struct {
	interval     time.Duration // 0: off
	csv, distrib string
	csvWhat      string // the setting that named csv, for errors
	distribWhat  string
}

func statsSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "stats-collect", Env: "LOCUST_EXTRA_STATS_COLLECT", Default: "0", Arg: "MS",
			Help: "snapshot interval in milliseconds, 0 for off (see doc/stats.md)", Expect: "milliseconds, a whole number (0 for off)"},
		{Flag: "stats-csv", Env: "LOCUST_EXTRA_STATS_CSV", Arg: "FILE", Help: "time-series CSV file"},
		{Flag: "stats-distrib", Env: "LOCUST_EXTRA_STATS_DISTRIB", Arg: "FILE", Help: "histogram distribution file, JSON Lines"},
	}
}

// parse reads the settings. A file set on the command line without an interval is an
// error; one set only in the environment is ignored then, as zk-locust does.
func (o *statsOptions) parse(fs *flagSet) error {
	collect := fs.get("stats-collect")
	ms, err := collect.Int(0, 1<<31-1)
	if err != nil {
		return fs.check(err)
	}
	if ms == 0 {
		for _, f := range []string{"stats-csv", "stats-distrib"} {
			if fs.set(f) {
				return fs.fail("--%s needs --stats-collect MS (or LOCUST_EXTRA_STATS_COLLECT) above 0", f)
			}
		}
		return nil
	}
	csv, dist := fs.get("stats-csv"), fs.get("stats-distrib")
	if csv.Text == "" && dist.Text == "" {
		return fs.fail("%s %d: give --stats-csv FILE or --stats-distrib FILE (or LOCUST_EXTRA_STATS_CSV/_DISTRIB)", collect.Name(), ms)
	}
	o.interval = time.Duration(ms) * time.Millisecond
	o.csv, o.distrib = csv.Text, dist.Text
	o.csvWhat, o.distribWhat = csv.Name(), dist.Name()
	return nil
}

// metricsOptions are the ensemble's metrics (doc/metrics.md): `zkload metrics`, and a
// worker's --zk-metrics-*.
type metricsOptions struct {
	interval   time.Duration // 0: off
	csv        string
	csvWhat    string
	source     ensemble.Source
	sourceText string
	members    []ensemble.Member
	timeout    time.Duration
	hosts      string
}

// metricsSettings are a worker's (and `zkload run`'s) ensemble-metrics settings, named
// as zk-locust's.
func metricsSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "zk-metrics-collect", Env: "ZK_LOCUST_ZK_METRICS_COLLECT", Arg: "MS",
			Help:   "poll every member every MS milliseconds (or a duration such as 2s), written to --zk-metrics-csv; needs --hosts (see doc/metrics.md)",
			Expect: "milliseconds such as 2000, or a duration such as 2s"},
		{Flag: "zk-metrics-csv", Env: "ZK_LOCUST_ZK_METRICS_CSV", Arg: "FILE", Help: "long-form CSV file"},
		{Flag: "zk-metrics-source", Default: "auto", Arg: "SOURCE", Help: "auto, admin (AdminServer monitor), mntr or prometheus",
			Expect: "auto, admin, mntr or prometheus"},
		{Flag: "zk-admin-port", Env: "ZK_ADMIN_PORT", Default: strconv.Itoa(ensemble.DefaultAdminPort), Arg: "PORT[,PORT...]",
			Help: "AdminServer port, one for all members or one per member: 8080,8081,...", Expect: "a port, or one port per member: 8080 or 8080,8081,8082"},
		{Flag: "zk-prometheus-port", Default: strconv.Itoa(ensemble.DefaultPrometheusPort), Arg: "PORT[,PORT...]",
			Help: "Prometheus provider port, one for all members or one per member", Expect: "a port, or one port per member: 7000 or 7000,7001,7002"},
	}
}

// parseInterval reads a poll interval: whole milliseconds (zk-locust) or a Go duration.
func parseInterval(v setting.Value) (time.Duration, error) {
	t := strings.TrimSpace(v.Text)
	if ms, err := strconv.Atoi(t); err == nil && ms > 0 {
		return time.Duration(ms) * time.Millisecond, nil
	}
	if d, err := time.ParseDuration(t); err == nil && d > 0 {
		return d, nil
	}
	if t == "web" {
		return 0, v.Errorf("zkload has no metrics web page; want milliseconds such as 2000")
	}
	return 0, v.Bad()
}

// parseEnsemble reads the metrics source, the ports and the members of hosts (whose
// source hostsWhat names). The flag names differ between `zkload metrics` and a worker.
func (o *metricsOptions) parseEnsemble(fs *flagSet, hosts setting.Value, sourceFlag, adminFlag, promFlag string) error {
	srcV := fs.get(sourceFlag)
	src, err := ensemble.ParseSource(srcV.Text)
	if err != nil {
		return fs.check(srcV.Bad())
	}
	o.source, o.sourceText = src, srcV.Text
	adminV, promV := fs.get(adminFlag), fs.get(promFlag)
	ap, err := ensemble.ParsePorts(adminV.Text)
	if err != nil {
		return fs.check(adminV.Bad())
	}
	pp, err := ensemble.ParsePorts(promV.Text)
	if err != nil {
		return fs.check(promV.Bad())
	}
	if strings.TrimSpace(hosts.Text) == "" {
		return fs.fail("%s: no ensemble; want --hosts host:port[,host:port...] (or ZK_LOCUST_HOSTS)", hosts.Name())
	}
	trim := func(err error) string {
		return strings.TrimPrefix(err.Error(), fmt.Sprintf("connect string %q: ", hosts.Text))
	}
	if _, err := ensemble.Members(hosts.Text, nil, nil); err != nil {
		return fs.check(hosts.Errorf("%s; want host:port[,host:port...][/chroot]", trim(err)))
	}
	if _, err := ensemble.Members(hosts.Text, ap, nil); err != nil {
		return fs.check(adminV.Errorf("%v", err))
	}
	if o.members, err = ensemble.Members(hosts.Text, ap, pp); err != nil {
		return fs.check(promV.Errorf("%v", err))
	}
	o.hosts = hosts.Text
	return nil
}

// parseWorker reads a worker's --zk-metrics-* settings; hosts is the worker's own
// --hosts/ZK_LOCUST_HOSTS (the master's settings arrive only with its spawn).
func (o *metricsOptions) parseWorker(fs *flagSet, hosts setting.Value) error {
	collect := fs.get("zk-metrics-collect")
	if t := strings.TrimSpace(collect.Text); t == "" || t == "0" {
		if fs.set("zk-metrics-csv") {
			return fs.fail("--zk-metrics-csv needs --zk-metrics-collect MS (or ZK_LOCUST_ZK_METRICS_COLLECT)")
		}
		return nil
	}
	interval, err := parseInterval(collect)
	if err != nil {
		return fs.check(err)
	}
	csv := fs.get("zk-metrics-csv")
	if csv.Text == "" {
		return fs.fail("%s %s: give --zk-metrics-csv FILE (or ZK_LOCUST_ZK_METRICS_CSV)", collect.Name(), collect.Text)
	}
	if strings.TrimSpace(hosts.Text) == "" {
		return fs.fail("%s %s: no ensemble to poll; give the worker --hosts host:port[,host:port...] or ZK_LOCUST_HOSTS (the master's hosts arrive only with its spawn)", collect.Name(), collect.Text)
	}
	if err := o.parseEnsemble(fs, hosts, "zk-metrics-source", "zk-admin-port", "zk-prometheus-port"); err != nil {
		return err
	}
	o.interval, o.csv, o.csvWhat, o.timeout = interval, csv.Text, csv.Name(), 2*time.Second
	return nil
}

// reportDirOptions are --report-dir and --force (doc/run.md, "One directory per run").
type reportDirOptions struct {
	dir   string
	force bool
}

func reportDirSettings(what string) []*setting.Spec {
	return []*setting.Spec{
		{Flag: "report-dir", Arg: "DIR", Help: "write " + what + " into DIR (created; see doc/run.md)"},
		{Flag: "force", Bool: true, Help: "with --report-dir: use a directory that is not empty, overwriting what it holds"},
	}
}

func (o *reportDirOptions) parse(fs *flagSet) error {
	o.dir = fs.text("report-dir")
	force, err := fs.flag("force")
	if err != nil {
		return fs.check(err)
	}
	o.force = force
	return nil
}

// parseTimespan reads a time span as Locust's -t does: plain seconds ("90") or hours,
// minutes and seconds ("1h30m", "5m", "20s"); Go durations work too.
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}
