// Command scale measures how far one zkload worker scales and prints the figures as a
// markdown block for doc/performance.md (and, with -json, as JSON):
//
//   - idle users: the RSS of a worker running N users that do nothing and wait an hour
//     (for each N of -users), per user, and how fast one spawn message starts them;
//   - failing users: the same for Http users whose requests a refusing target fails at
//     once, with no wait (-failing-users): the most a user costs, which boomer's user
//     limit (boomer.PerUserMemory) must cover;
//   - heartbeat punctuality: the gaps between the worker's heartbeats as they reach the
//     master while Http users with no wait saturate the worker's core;
//   - stats message size: the bytes of each stats message as the request rate grows.
//
// The master is internal/fakemaster, in this process, sending the frames a real Locust
// master sends. Each measurement has a fresh worker: this program re-executed as
// `scale -worker`, a boomer.Worker as `zkload worker` builds it, with GOMAXPROCS=1 and
// pinned with taskset to -worker-cpu, so that its RSS and CPU are its own. The Http
// users load -url, or else nginx started here as bench.sh starts it (pinned to
// -server-cpu), or else a net/http server in this process.
//
// A quick run: go run ./scripts/bench/scale -users 1000 -failing-users 1000 -hb-time 3s -rates 100,0 -rate-time 2s -stats-interval 1s
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkload/zkload/boomer"
)

// The targets.
const (
	idleTarget     = 100_000
	rssLimit       = 1 << 30 // 1 GiB
	heartbeatLimit = 1200 * time.Millisecond
	// perUserLimit is what boomer's user limit counts a user for: a failing user must
	// not take more.
	perUserLimit = boomer.PerUserMemory
	// saturated is the worker CPU (percent of its one core, from its heartbeats) above
	// which the heartbeat figure counts as measured "with the core saturated".
	saturated = 90.0
	// boundedFactor: stats messages are bounded if, while the rate grows at least
	// minRateGrowth times, the largest message grows at most this many times.
	boundedFactor = 4.0
	minRateGrowth = 10.0
)

// config is the measurement's settings, from the flags.
type config struct {
	phases        map[string]bool
	users         []int
	failingUsers  []int
	settle        time.Duration
	settleMax     time.Duration
	spawnTimeout  time.Duration
	hbTime        time.Duration
	hbUsers       int
	hbBusy        int
	rates         []float64 // requests per second; 0 is unthrottled
	rateUsers     int
	rateTime      time.Duration
	statsInterval time.Duration
	url           string
	server        string
	nginx         string
	workerCPU     int
	serverCPU     int
	jsonPath      string

	target *target // started by run
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == workerFlag {
		os.Exit(workerExit(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "scale: %v\n", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("scale", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: scale [flags]

Measures one zkload worker's scale: RSS and spawn speed of idle users, RSS of users
failing fast, heartbeat gaps with its core saturated, stats message size as the request
rate grows. Prints markdown on stdout, progress on stderr. Tiny run:
  scale -users 1000 -failing-users 1000 -hb-time 3s -rates 100,0 -rate-time 2s -stats-interval 1s

Flags:
`)
		fs.PrintDefaults()
	}
	cfg := &config{}
	phases := fs.String("phases", "idle,failing,heartbeat,stats", "what to measure: idle, failing, heartbeat, stats (comma-separated)")
	users := fs.String("users", "10000,100000", "idle user counts, one worker each (comma-separated)")
	failingUsers := fs.String("failing-users", "10000", "counts of users failing fast against a refusing target, one worker each (comma-separated)")
	fs.DurationVar(&cfg.settle, "settle", time.Second, "RSS is read once it varied by under 1% for this long")
	fs.DurationVar(&cfg.settleMax, "settle-max", 15*time.Second, "longest wait for the RSS to settle (then the last reading counts)")
	fs.DurationVar(&cfg.spawnTimeout, "spawn-timeout", 2*time.Minute, "longest wait for spawning_complete")
	fs.DurationVar(&cfg.hbTime, "hb-time", 30*time.Second, "how long heartbeats are recorded under load")
	fs.IntVar(&cfg.hbUsers, "hb-users", 50, "Http users (no wait) loading the worker for the heartbeat measurement")
	fs.IntVar(&cfg.hbBusy, "hb-busy", 2, "Busy users (CPU only) added in a second heartbeat run, so that the core saturates whatever the target; 0: no second run")
	rates := fs.String("rates", "100,1000,10000,0", "request rates (req/s) for the stats sizes; 0 is unthrottled (comma-separated)")
	fs.IntVar(&cfg.rateUsers, "rate-users", 50, "Http users sharing each rate (constant_throughput of rate/users each)")
	fs.DurationVar(&cfg.rateTime, "rate-time", 12*time.Second, "how long stats messages are recorded per rate, after the first")
	fs.DurationVar(&cfg.statsInterval, "stats-interval", 3*time.Second, "the worker's stats interval (Locust's is 3 s)")
	fs.StringVar(&cfg.url, "url", "", "HTTP target (e.g. bench.sh's nginx); default: start one, see -server")
	fs.StringVar(&cfg.server, "server", "auto", "without -url: nginx, go (a net/http server in this process) or auto (nginx if installed)")
	fs.StringVar(&cfg.nginx, "nginx", "", "nginx binary (default: nginx in PATH or /usr/sbin/nginx)")
	fs.IntVar(&cfg.workerCPU, "worker-cpu", 0, "core the worker is pinned to with taskset; -1: not pinned")
	// On one core (or pinned to one), nginx shares the worker's core, unpinned.
	serverCPU := -1
	if runtime.NumCPU() >= 2 {
		serverCPU = 1
	}
	fs.IntVar(&cfg.serverCPU, "server-cpu", serverCPU, "core the nginx started here is pinned to; -1: not pinned")
	fs.StringVar(&cfg.jsonPath, "json", "", "also write the figures as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.phases = map[string]bool{}
	for _, p := range splitList(*phases) {
		if p != "idle" && p != "failing" && p != "heartbeat" && p != "stats" {
			return nil, fmt.Errorf("-phases: %q: want idle, failing, heartbeat or stats", p)
		}
		cfg.phases[p] = true
	}
	if len(cfg.phases) == 0 {
		return nil, errors.New("-phases is empty")
	}
	for _, s := range splitList(*users) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-users: %q: want a positive count", s)
		}
		cfg.users = append(cfg.users, n)
	}
	for _, s := range splitList(*failingUsers) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-failing-users: %q: want a positive count", s)
		}
		cfg.failingUsers = append(cfg.failingUsers, n)
	}
	for _, s := range splitList(*rates) {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r < 0 || math.IsInf(r, 0) {
			return nil, fmt.Errorf("-rates: %q: want requests per second, 0 for unthrottled", s)
		}
		cfg.rates = append(cfg.rates, r)
	}
	switch {
	case cfg.phases["idle"] && len(cfg.users) == 0:
		return nil, errors.New("-users is empty")
	case cfg.phases["failing"] && len(cfg.failingUsers) == 0:
		return nil, errors.New("-failing-users is empty")
	case cfg.phases["stats"] && len(cfg.rates) == 0:
		return nil, errors.New("-rates is empty")
	case cfg.hbUsers < 1 || cfg.rateUsers < 1 || cfg.hbBusy < 0:
		return nil, errors.New("-hb-users and -rate-users: want at least 1; -hb-busy: 0 or more")
	case cfg.settle <= 0 || cfg.settleMax < cfg.settle || cfg.spawnTimeout <= 0:
		return nil, errors.New("-settle, -settle-max, -spawn-timeout: want positive durations, -settle-max ≥ -settle")
	case cfg.hbTime < time.Second:
		return nil, fmt.Errorf("-hb-time %v: want at least 1s (heartbeats come every second)", cfg.hbTime)
	case cfg.statsInterval < 100*time.Millisecond || cfg.rateTime < cfg.statsInterval:
		return nil, errors.New("-stats-interval: want at least 100ms, and -rate-time at least one interval")
	case cfg.server != "auto" && cfg.server != "nginx" && cfg.server != "go":
		return nil, fmt.Errorf("-server %q: want auto, nginx or go", cfg.server)
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// run measures what cfg asks and writes the markdown to stdout; progress goes to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.workerCPU >= 0 && tasksetPath == "" {
		fmt.Fprintln(stderr, "scale: taskset not found; the worker runs unpinned")
	}
	sum := &Summary{CPUs: runtime.NumCPU(), Go: runtime.Version(), StatsInterval: cfg.statsInterval.Seconds()}
	if cfg.workerCPU >= 0 && tasksetPath != "" {
		sum.WorkerCPU = &cfg.workerCPU
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "scale: "+format+"\n", a...) }

	if cfg.phases["heartbeat"] || cfg.phases["stats"] {
		if cfg.target, err = startTarget(cfg); err != nil {
			return err
		}
		defer cfg.target.stop()
		sum.Target = cfg.target.desc
	} else {
		cfg.target = &target{}
	}
	if cfg.phases["idle"] {
		sum.Idle, err = measureEach(cfg.users, "idle", func(n int) (IdleResult, error) { return measureIdle(ctx, cfg, n) },
			func(r IdleResult) string {
				return fmt.Sprintf("RSS %s -> %s (peak %s), %s per user, spawned in %.3f s",
					mib(r.RSSBefore), mib(r.RSSAfter), mib(r.PeakRSS), perUser(r.RSSPerUser), r.SpawnSeconds)
			}, progress)
		if err != nil {
			return err
		}
	}
	if cfg.phases["failing"] {
		sum.Failing, err = measureEach(cfg.failingUsers, "failing", func(n int) (FailingResult, error) { return measureFailing(ctx, cfg, n) },
			func(r FailingResult) string {
				return fmt.Sprintf("RSS %s -> %s (peak %s), %s per user (%s at the peak), %.0f req/s all failed",
					mib(r.RSSBefore), mib(r.RSSAfter), mib(r.PeakRSS), perUser(r.RSSPerUser), perUser(r.PeakPerUser), r.RequestsPerSecond)
			}, progress)
		if err != nil {
			return err
		}
	}
	if cfg.phases["heartbeat"] {
		busy := []int{0}
		if cfg.hbBusy > 0 {
			busy = append(busy, cfg.hbBusy)
		}
		for _, b := range busy {
			r, err := measureHeartbeats(ctx, cfg, b)
			if err != nil {
				return fmt.Errorf("heartbeats under load (%d Busy users): %w", b, err)
			}
			progress("heartbeats with %s users: %d, gaps p50 %.3f s p99 %.3f s max %.3f s, worker CPU %.0f%%, %.0f req/s",
				r.who(), r.Heartbeats, r.GapP50, r.GapP99, r.GapMax, r.CPUMedian, r.RequestsPerSecond)
			sum.Heartbeat = append(sum.Heartbeat, r)
		}
	}
	if cfg.phases["stats"] {
		for _, rate := range cfg.rates {
			r, err := measureStats(ctx, cfg, rate)
			if err != nil {
				return fmt.Errorf("stats size at %s: %w", rateName(rate), err)
			}
			progress("stats at %s: %.0f req/s, %d messages, median %d B, max %d B, %d buckets",
				rateName(rate), r.RequestsPerSecond, r.Messages, r.MedianBytes, r.MaxBytes, r.MaxBuckets)
			sum.Stats = append(sum.Stats, r)
		}
	}
	sum.Verdicts = verdicts(sum)
	writeMarkdown(stdout, cfg, sum)
	if cfg.jsonPath != "" {
		b, err := json.MarshalIndent(sum, "", "  ")
		if err != nil {
			return fmt.Errorf("-json: %w", err)
		}
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("-json: %w", err)
		}
	}
	return nil
}

// Summary is everything measured, as -json writes it. Times are seconds, sizes bytes.
type Summary struct {
	CPUs          int     `json:"cpus"`
	Go            string  `json:"go"`
	WorkerCPU     *int    `json:"worker_cpu"` // the core the worker was pinned to; null if not pinned
	Target        string  `json:"target,omitempty"`
	StatsInterval float64 `json:"stats_interval"`

	Idle      []IdleResult      `json:"idle,omitempty"`
	Failing   []FailingResult   `json:"failing,omitempty"`
	Heartbeat []HeartbeatResult `json:"heartbeat,omitempty"`
	Stats     []StatsResult     `json:"stats,omitempty"`
	Verdicts  []Verdict         `json:"verdicts"`
}

// IdleResult is one worker running Users idle users.
type IdleResult struct {
	Users      int     `json:"users"`
	RSSBefore  int64   `json:"rss_before"` // registered, no users
	RSSAfter   int64   `json:"rss_after"`  // the users up and the RSS settled
	PeakRSS    int64   `json:"peak_rss"`   // VmHWM: the most the worker ever held
	RSSPerUser float64 `json:"rss_per_user"`
	Settled    bool    `json:"settled"` // false: RSS still moved at -settle-max
	// SpawnSeconds is from sending the spawn message to receiving spawning_complete.
	SpawnSeconds   float64 `json:"spawn_seconds"`
	UsersPerSecond float64 `json:"spawn_users_per_second"`
}

// FailingResult is one worker running Users Http users whose requests fail at once
// (connection refused) and which never wait.
type FailingResult struct {
	Users      int     `json:"users"`
	RSSBefore  int64   `json:"rss_before"`
	RSSAfter   int64   `json:"rss_after"`
	PeakRSS    int64   `json:"peak_rss"`
	RSSPerUser float64 `json:"rss_per_user"`
	// PeakPerUser is (peak − before) / users: what boomer's user limit must cover.
	PeakPerUser       float64 `json:"peak_per_user"`
	Settled           bool    `json:"settled"`
	SpawnSeconds      float64 `json:"spawn_seconds"`
	RequestsPerSecond float64 `json:"requests_per_second"` // all failed
}

// HeartbeatResult is the heartbeats of a worker whose Http users saturate its core.
type HeartbeatResult struct {
	Users      int     `json:"users"` // Http users, no wait
	Busy       int     `json:"busy"`  // Busy users, CPU only
	Seconds    float64 `json:"seconds"`
	Heartbeats int     `json:"heartbeats"`
	GapP50     float64 `json:"gap_p50"`
	GapP99     float64 `json:"gap_p99"`
	GapMax     float64 `json:"gap_max"`
	// CPU is the worker's own figure from its heartbeats: percent of its one core.
	CPUMedian         float64 `json:"cpu_median"`
	CPUMin            float64 `json:"cpu_min"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	Failures          int64   `json:"failures"`
}

// who names the run's users: "50 Http + 2 Busy".
func (r HeartbeatResult) who() string {
	if r.Busy == 0 {
		return fmt.Sprintf("%d Http", r.Users)
	}
	return fmt.Sprintf("%d Http + %d Busy", r.Users, r.Busy)
}

// StatsResult is the stats messages of a worker held at one request rate.
type StatsResult struct {
	TargetRate        float64 `json:"target_rate"` // 0: unthrottled
	Users             int     `json:"users"`
	RequestsPerSecond float64 `json:"requests_per_second"` // from the messages' num_requests
	Messages          int     `json:"messages"`
	MedianBytes       int     `json:"median_bytes"`
	MaxBytes          int     `json:"max_bytes"`
	// MaxBuckets is the most response-time buckets the total entry had in a message.
	MaxBuckets int   `json:"max_buckets"`
	Failures   int64 `json:"failures"`
}

// Verdict is one target of the issue and whether it was met.
type Verdict struct {
	Target string `json:"target"`
	Value  string `json:"value"`
	Status string `json:"status"` // met, missed, inconclusive or not measured
}

// percentile is the nearest-rank p-quantile of xs (not modified).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// verdicts judges the targets on what was measured.
func verdicts(sum *Summary) []Verdict {
	var out []Verdict
	idle := Verdict{Target: fmt.Sprintf("%dk idle users in one worker under 1 GiB RSS", idleTarget/1000), Status: "not measured"}
	if len(sum.Idle) > 0 {
		largest := sum.Idle[0]
		for _, r := range sum.Idle {
			if r.Users > largest.Users {
				largest = r
			}
		}
		if largest.Users >= idleTarget {
			// Judged on the peak: a memory limit must hold the spawn's high-water
			// mark, not only the RSS at rest.
			idle.Value = fmt.Sprintf("peak %s, %s at rest with %d users", mib(largest.PeakRSS), mib(largest.RSSAfter), largest.Users)
			idle.Status = metOrMissed(largest.PeakRSS < rssLimit)
		} else {
			est := float64(largest.RSSBefore) + largest.RSSPerUser*idleTarget
			idle.Value = fmt.Sprintf("≈ %s extrapolated from %d users (%s per user)", mib(int64(est)), largest.Users, perUser(largest.RSSPerUser))
		}
	}
	out = append(out, idle)

	fail := Verdict{Target: fmt.Sprintf("a failing user within boomer's user limit's %s a user", perUser(perUserLimit)), Status: "not measured"}
	if len(sum.Failing) > 0 {
		worst := sum.Failing[0]
		for _, r := range sum.Failing {
			if r.PeakPerUser > worst.PeakPerUser {
				worst = r
			}
		}
		fail.Value = fmt.Sprintf("%s a user at the peak (%s at rest) with %d failing users", perUser(worst.PeakPerUser), perUser(worst.RSSPerUser), worst.Users)
		fail.Status = metOrMissed(worst.PeakPerUser <= perUserLimit)
	}
	out = append(out, fail)

	hb := Verdict{Target: fmt.Sprintf("heartbeat gaps p99 < %.1f s with the core saturated", heartbeatLimit.Seconds()), Status: "not measured"}
	if len(sum.Heartbeat) > 0 {
		// Judged on the worst row; a miss counts even where the core was not saturated.
		var worst HeartbeatResult
		sat := false
		for _, r := range sum.Heartbeat {
			if r.GapP99 >= worst.GapP99 {
				worst = r
			}
			sat = sat || r.CPUMedian >= saturated
		}
		hb.Value = fmt.Sprintf("worst p99 %.3f s (%s users, %d heartbeats, worker CPU %.0f%%)",
			worst.GapP99, worst.who(), worst.Heartbeats, worst.CPUMedian)
		switch {
		case worst.GapP99 >= heartbeatLimit.Seconds():
			hb.Status = "missed"
		case !sat:
			hb.Status = "inconclusive"
			hb.Value += fmt.Sprintf("; the core never reached %.0f%%", saturated)
		default:
			hb.Status = "met"
		}
	}
	out = append(out, hb)

	st := Verdict{Target: "stats messages bounded as the request rate grows", Status: "not measured"}
	if len(sum.Stats) > 0 {
		lo, hi := sum.Stats[0], sum.Stats[0]
		for _, r := range sum.Stats {
			if r.RequestsPerSecond < lo.RequestsPerSecond {
				lo = r
			}
			if r.RequestsPerSecond > hi.RequestsPerSecond {
				hi = r
			}
		}
		growth := hi.RequestsPerSecond / max(lo.RequestsPerSecond, 1e-9)
		size := float64(hi.MaxBytes) / float64(max(lo.MaxBytes, 1))
		st.Value = fmt.Sprintf("largest %d B at %.0f req/s vs %d B at %.0f req/s: %.1f× the size for %.0f× the rate",
			hi.MaxBytes, hi.RequestsPerSecond, lo.MaxBytes, lo.RequestsPerSecond, size, growth)
		switch {
		case growth < minRateGrowth:
			st.Status = "inconclusive"
			st.Value += fmt.Sprintf(" (want rates at least %.0f× apart)", minRateGrowth)
		default:
			st.Status = metOrMissed(size <= boundedFactor)
		}
	}
	return append(out, st)
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// measureEach measures a phase at every user count, with a progress line each.
func measureEach[R any](counts []int, phase string, measure func(n int) (R, error), line func(R) string,
	progress func(format string, a ...any)) ([]R, error) {
	var out []R
	for _, n := range counts {
		r, err := measure(n)
		if err != nil {
			return out, fmt.Errorf("%s users (%d): %w", phase, n, err)
		}
		progress("%s %d users: %s", phase, n, line(r))
		out = append(out, r)
	}
	return out, nil
}

// rssCells are a table row's RSS before, after (marked when it was still moving) and
// at the peak.
func rssCells(before, after, peak int64, settled bool) string {
	a := mib(after)
	if !settled {
		a += " (still moving)"
	}
	return fmt.Sprintf("%s | %s | %s", mib(before), a, mib(peak))
}

// writeMarkdown writes the figures, how they were taken, and the verdicts.
func writeMarkdown(w io.Writer, cfg *config, sum *Summary) {
	pin := "not pinned"
	if sum.WorkerCPU != nil {
		pin = fmt.Sprintf("pinned to core %d with taskset", *sum.WorkerCPU)
	}
	fmt.Fprintf(w, "## Scale: users per worker, memory per user, heartbeats under load, stats size\n\n")
	fmt.Fprintf(w, "One worker process (the boomer.Worker of `zkload worker`, GOMAXPROCS=1, %s), a fresh one per\n", pin)
	fmt.Fprintf(w, "measurement, registered with a fake Locust master in the measuring process (internal/fakemaster,\n")
	fmt.Fprintf(w, "Locust's frames; it answers heartbeats as Locust 2.19+ does). %d CPUs, %s.", sum.CPUs, sum.Go)
	if sum.Target != "" {
		fmt.Fprintf(w, " HTTP target: %s.", sum.Target)
	}
	fmt.Fprintf(w, "\n\n")

	if len(sum.Idle) > 0 {
		fmt.Fprintf(w, "### Idle users\n\n")
		fmt.Fprintf(w, "Users whose task does nothing and whose wait is 1 h, started by one spawn message. RSS is the\n")
		fmt.Fprintf(w, "worker's VmRSS: before, registered with no users; after, once the users are up and it varied by\n")
		fmt.Fprintf(w, "under 1%% for %s; peak is VmHWM. Per user is (after − before) / users. Spawn is from sending the\n", secs(cfg.settle))
		fmt.Fprintf(w, "spawn message to receiving spawning_complete (every user's goroutine created).\n\n")
		fmt.Fprintf(w, "| users | RSS before | RSS after | peak RSS | per user | spawn | users/s |\n")
		fmt.Fprintf(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range sum.Idle {
			fmt.Fprintf(w, "| %d | %s | %s | %.3f s | %.0f |\n", r.Users, rssCells(r.RSSBefore, r.RSSAfter, r.PeakRSS, r.Settled),
				perUser(r.RSSPerUser), r.SpawnSeconds, r.UsersPerSecond)
		}
		fmt.Fprintln(w)
	}
	if len(sum.Failing) > 0 {
		fmt.Fprintf(w, "### Users whose requests fail at once\n\n")
		fmt.Fprintf(w, "Http users with no wait against a loopback port that refuses connections, started by one spawn\n")
		fmt.Fprintf(w, "message: each request fails at once and the user tries again, the most garbage a user makes. RSS\n")
		fmt.Fprintf(w, "as for idle users (after: settled within 1%% for %s, or %s at most); per user at the peak is\n", secs(cfg.settle), secs(cfg.settleMax))
		fmt.Fprintf(w, "(peak − before) / users, which boomer's user limit (memory available / %s) must cover.\n\n", perUser(perUserLimit))
		fmt.Fprintf(w, "| users | RSS before | RSS after | peak RSS | per user | per user at the peak | spawn | failed req/s |\n")
		fmt.Fprintf(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range sum.Failing {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %.3f s | %.0f |\n", r.Users, rssCells(r.RSSBefore, r.RSSAfter, r.PeakRSS, r.Settled),
				perUser(r.RSSPerUser), perUser(r.PeakPerUser), r.SpawnSeconds, r.RequestsPerSecond)
		}
		fmt.Fprintln(w)
	}
	if len(sum.Heartbeat) > 0 {
		fmt.Fprintf(w, `### Heartbeats with the core saturated

Http users with no wait for %s, alone and then with Busy users whose tasks only burn CPU (1 ms
each, no wait), which saturate the core whatever the target allows. Gaps are between the worker's
heartbeats (every 1 s) as they reached the master; CPU is the worker's own figure from its
heartbeats (percent of its core); req/s counts the Http requests. With Busy users Go's run queue
is never empty, so the scheduler polls the network only every few milliseconds and the Http
rate drops: that row is about heartbeats, not throughput.

| users | heartbeats | gap p50 | gap p99 | gap max | worker CPU median (min) | req/s | failures |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
`, secs(cfg.hbTime))
		for _, r := range sum.Heartbeat {
			fmt.Fprintf(w, "| %s | %d | %.3f s | %.3f s | %.3f s | %.0f%% (%.0f%%) | %.0f | %d |\n", r.who(),
				r.Heartbeats, r.GapP50, r.GapP99, r.GapMax, r.CPUMedian, r.CPUMin, r.RequestsPerSecond, r.Failures)
		}
		fmt.Fprintln(w)
	}
	if len(sum.Stats) > 0 {
		fmt.Fprintf(w, `### Stats message size as the request rate grows

%d Http users, each paced by constant_throughput(rate / users) (unthrottled: no wait), stats
every %s; the first message after the spawn (a partial interval) and the final one are left out.
Bytes are the msgpack payload; buckets are the Aggregated entry's response-time keys.

| target req/s | achieved req/s | messages | median bytes | max bytes | buckets (max) | failures |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
`, cfg.rateUsers, secs(cfg.statsInterval))
		for _, r := range sum.Stats {
			fmt.Fprintf(w, "| %s | %.0f | %d | %d | %d | %d | %d |\n", rateName(r.TargetRate), r.RequestsPerSecond,
				r.Messages, r.MedianBytes, r.MaxBytes, r.MaxBuckets, r.Failures)
		}
		fmt.Fprintf(w, "\nA message holds one entry per (method, name) plus the total, each with its response times in\n")
		fmt.Fprintf(w, "Locust's rounded buckets (1 ms steps below 100 ms, 10 ms below 1 s, 100 ms below 10 s, then 1 s):\n")
		fmt.Fprintf(w, "their number follows the spread of response times, not the request count, and stays under ~330\n")
		fmt.Fprintf(w, "up to the 60 s request timeout (~3 KB an entry); a count only gains bytes as it crosses 2^16.\n\n")
	}
	fmt.Fprintf(w, "Targets:\n\n")
	for _, v := range sum.Verdicts {
		if v.Value == "" {
			fmt.Fprintf(w, "- %s: %s\n", v.Target, v.Status)
			continue
		}
		status := v.Status
		if status == "met" || status == "missed" {
			status = "**" + status + "**"
		}
		fmt.Fprintf(w, "- %s: %s — %s\n", v.Target, v.Value, status)
	}
}

func rateName(r float64) string {
	if r == 0 {
		return "unthrottled"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// secs writes d as the tables do: "2.5 s".
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s" }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func perUser(b float64) string { return fmt.Sprintf("%.2f KiB", b/1024) }
