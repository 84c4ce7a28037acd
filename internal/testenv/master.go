package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MasterOptions configures StartMaster. Zero values leave Locust's defaults.
type MasterOptions struct {
	// Locust is the release that runs as master (zero: Debian's 2.12.1).
	Locust Locust

	// Locustfile is the master's locustfile; if empty, one is written from Classes
	// (default: a single class UserA with weight 1).
	Locustfile string
	Classes    []Class

	// Headless adds --headless (no web UI: Swarm, StopTest and Stats are unavailable).
	// Autostart adds --autostart (web UI, and the test starts at once).
	Headless  bool
	Autostart bool

	Users         int     // -u, if > 0
	SpawnRate     float64 // -r, if > 0
	RunTime       string  // -t, e.g. "10s"
	ExpectWorkers int     // --expect-workers, if > 0
	// CSVPrefix adds --csv; a relative prefix is relative to the master's Dir. Use
	// Master.CSV("stats") etc. for the file names.
	CSVPrefix string
	Host      string // -H
	// StopTimeout, if > 0, adds --stop-timeout in whole seconds (2.12.1 then sends an int
	// stop_timeout in spawn; without it, nil). For an explicit 0 use ExtraArgs.
	StopTimeout time.Duration
	// LogLevel is --loglevel (default INFO, which shows "reported as ready", "All users
	// spawned", "report waittime is expired", "failed to send heartbeat", ...; DEBUG adds
	// every message sent to workers).
	LogLevel  string
	ExtraArgs []string
	// Env entries are added to the master's environment (LOCUST_* variables of the test
	// environment are removed first, so that they cannot change the master's options).
	Env []string
	// StartTimeout bounds the wait for the ports (and web UI) to be ready (default 30s).
	StartTimeout time.Duration
}

// Master is a real Locust master (Debian's 2.12.1 unless Opts.Locust says otherwise)
// started by StartMaster. It listens
// on 127.0.0.1 only: MasterPort for workers, WebPort for the web UI (0 when Headless).
//
// The embedded *Proc is the current process: its log helpers (WaitLog, LogContains,
// Mark, ...), Signal, Kill and Wait act on it. Restart replaces it; don't call Restart
// concurrently with other methods.
type Master struct {
	*Proc
	t          testing.TB
	Opts       MasterOptions
	MasterPort int
	WebPort    int
	// Dir is the master's working directory (CSV files with a relative prefix go here).
	Dir string
	// Runs counts the processes started so far (1 after StartMaster, 2 after a Restart).
	Runs int
	args []string
}

// StartMaster starts `locust -f F --master --master-bind-host 127.0.0.1
// --master-bind-port P --web-host 127.0.0.1 --web-port W ...` on fresh ports, with its
// output in a log file, and waits until it listens (and, unless Headless, until its web
// UI answers). It fails the test if the master listens anywhere but on 127.0.0.1. If
// another process grabs a chosen port first, it retries with new ports.
func StartMaster(t testing.TB, o MasterOptions) *Master {
	t.Helper()
	if o.Locustfile == "" {
		classes := o.Classes
		if len(classes) == 0 {
			classes = []Class{{Name: "UserA", Weight: 1}}
		}
		o.Locustfile = WriteLocustfile(t, classes)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.LogLevel == "" {
		o.LogLevel = "INFO"
	}
	if o.Locust.Path == "" {
		o.Locust = Debian()
	}
	m := &Master{t: t, Opts: o, Dir: filepath.Join(t.TempDir(), "master")}
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		t.Fatalf("testenv.StartMaster: %v", err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m.MasterPort = FreePort(t)
		if !o.Headless {
			m.WebPort = FreePort(t)
		}
		m.args = m.buildArgs()
		retry, err := m.start()
		if err == nil {
			return m
		}
		lastErr = err
		if !retry {
			break
		}
	}
	t.Fatalf("testenv.StartMaster: %v", lastErr)
	return nil
}

func (m *Master) buildArgs() []string {
	o := m.Opts
	a := []string{"-f", o.Locustfile, "--master",
		"--master-bind-host", "127.0.0.1", "--master-bind-port", strconv.Itoa(m.MasterPort),
		"--loglevel", o.LogLevel}
	if o.Headless {
		a = append(a, "--headless")
	} else {
		a = append(a, "--web-host", "127.0.0.1", "--web-port", strconv.Itoa(m.WebPort))
	}
	if o.Autostart {
		a = append(a, "--autostart")
	}
	if o.Users > 0 {
		a = append(a, "-u", strconv.Itoa(o.Users))
	}
	if o.SpawnRate > 0 {
		a = append(a, "-r", strconv.FormatFloat(o.SpawnRate, 'g', -1, 64))
	}
	if o.RunTime != "" {
		a = append(a, "-t", o.RunTime)
	}
	if o.ExpectWorkers > 0 {
		a = append(a, "--expect-workers", strconv.Itoa(o.ExpectWorkers))
	}
	if o.CSVPrefix != "" {
		a = append(a, "--csv", o.CSVPrefix)
	}
	if o.Host != "" {
		a = append(a, "-H", o.Host)
	}
	if o.StopTimeout > 0 {
		a = append(a, "--stop-timeout", strconv.Itoa(int(o.StopTimeout/time.Second)))
	}
	return append(a, o.ExtraArgs...)
}

func (m *Master) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCUST_") {
			env = append(env, kv)
		}
	}
	// Unbuffered, so the log shows lines as they happen. HOME points at the master's
	// own directory so that no ~/.locust.conf applies.
	env = append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "HOME="+m.Dir)
	env = append(env, m.Opts.Locust.Env...)
	return append(env, m.Opts.Env...)
}

// start runs one master process and waits for it to be ready. retry says whether a
// failure looks like a port collision.
func (m *Master) start() (retry bool, err error) {
	m.Runs++
	path, args := m.Opts.Locust.Command(m.args...)
	p, err := startProc(m.t, ProcOptions{
		Path: path, Args: args, Env: m.env(), CleanEnv: true, Dir: m.Dir,
		Label: "locust-master", LogPath: filepath.Join(m.Dir, fmt.Sprintf("master-%d.log", m.Runs)),
	})
	if err != nil {
		return false, err
	}
	m.Proc = p
	deadline := time.Now().Add(m.Opts.StartTimeout)
	for {
		if _, exited := p.Exited(); exited {
			log := p.Log()
			collision := strings.Contains(log, "Address already in use") || strings.Contains(log, "Socket bind failure")
			return collision, fmt.Errorf("master exited during start-up (%s); log %s:\n%s", p.Status(), p.LogPath, lastLines(log, 30))
		}
		ready, why := m.ready()
		if ready {
			break
		}
		if time.Now().After(deadline) {
			p.killGroup()
			return false, fmt.Errorf("master not ready within %v (%s); log %s:\n%s", m.Opts.StartTimeout, why, p.LogPath, lastLines(p.Log(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
	ls, err := Listeners(p.Pid())
	if err != nil {
		return false, err
	}
	for _, l := range ls {
		if !l.IP.Equal([]byte{127, 0, 0, 1}) && !l.IP.Equal([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}) {
			p.killGroup()
			return false, fmt.Errorf("master listens on %v, which is not 127.0.0.1 (all listeners: %v)", l, ls)
		}
	}
	return false, nil
}

// ready reports whether the worker port is bound by the master and the web UI (if any)
// answers.
func (m *Master) ready() (bool, string) {
	ls, err := Listeners(m.Pid())
	if err != nil {
		return false, err.Error()
	}
	var zmq, web bool
	for _, l := range ls {
		zmq = zmq || l.Port == m.MasterPort
		web = web || l.Port == m.WebPort
	}
	if !zmq {
		return false, fmt.Sprintf("port %d not listening", m.MasterPort)
	}
	if m.Opts.Headless {
		return true, ""
	}
	if !web {
		return false, fmt.Sprintf("web port %d not listening", m.WebPort)
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(m.WebURL() + "/")
	if err != nil {
		return false, err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, "web UI answered " + resp.Status
	}
	return true, ""
}

// Restart starts a new master process with the same options and ports, after SIGKILLing
// the current one if it still runs. Its log goes to a new file (master-N.log); the log
// helpers then read that one.
func (m *Master) Restart() {
	m.t.Helper()
	if _, exited := m.Exited(); !exited {
		m.Kill()
	}
	var err error
	deadline := time.Now().Add(m.Opts.StartTimeout)
	for {
		var retry bool
		if retry, err = m.start(); err == nil {
			return
		}
		// The old process's ports may take a moment to be released.
		if !retry || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	m.t.Fatalf("testenv: master restart: %v", err)
}

// Endpoint is the ZeroMQ endpoint workers connect to: tcp://127.0.0.1:MasterPort.
func (m *Master) Endpoint() string { return fmt.Sprintf("tcp://127.0.0.1:%d", m.MasterPort) }

// WebURL is the web UI's base URL (empty when Headless).
func (m *Master) WebURL() string {
	if m.WebPort == 0 {
		return ""
	}
	return fmt.Sprintf("http://127.0.0.1:%d", m.WebPort)
}

// CSV returns the path of one of the master's CSV files: kind is "stats",
// "stats_history", "failures" or "exceptions". It fails the test without CSVPrefix.
func (m *Master) CSV(kind string) string {
	m.t.Helper()
	if m.Opts.CSVPrefix == "" {
		m.t.Fatalf("testenv: master started without CSVPrefix")
	}
	prefix := m.Opts.CSVPrefix
	if !filepath.IsAbs(prefix) {
		prefix = filepath.Join(m.Dir, prefix)
	}
	return prefix + "_" + kind + ".csv"
}

// WaitReadyWorkers waits until the master logs that at least n workers are connected
// ("... reported as ready. N workers connected.") and returns that line.
func (m *Master) WaitReadyWorkers(n int, timeout time.Duration) string {
	m.t.Helper()
	rx := regexp.MustCompile(`reported as ready\. (\d+) workers connected`)
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range m.LogLines(rx.String()) {
			if c, _ := strconv.Atoi(rx.FindStringSubmatch(line)[1]); c >= n {
				return line
			}
		}
		if _, exited := m.Exited(); exited || time.Now().After(deadline) {
			m.t.Fatalf("testenv: master did not report %d ready workers within %v (%s)\nlast lines of %s:\n%s",
				n, timeout, m.Status(), m.LogPath, lastLines(m.Log(), 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Swarm starts or changes a test through the web UI (POST /swarm with user_count,
// spawn_rate and, if not empty, host), like the web form does.
func (m *Master) Swarm(users int, rate float64, host string) {
	m.t.Helper()
	form := url.Values{"user_count": {strconv.Itoa(users)}, "spawn_rate": {strconv.FormatFloat(rate, 'g', -1, 64)}}
	if host != "" {
		form.Set("host", host)
	}
	m.SwarmForm(form)
}

// SwarmForm posts any form to /swarm (e.g. with run_time) and returns the JSON answer;
// it fails the test unless the answer says success.
func (m *Master) SwarmForm(form url.Values) map[string]any {
	m.t.Helper()
	var res map[string]any
	m.web(http.MethodPost, "/swarm", form, &res)
	if ok, _ := res["success"].(bool); !ok {
		m.t.Fatalf("testenv: POST /swarm %v: %v", form, res)
	}
	return res
}

// StopTest stops the running test through the web UI (GET /stop): the master sends
// stop to every worker.
func (m *Master) StopTest() {
	m.t.Helper()
	var res map[string]any
	m.web(http.MethodGet, "/stop", nil, &res)
	if ok, _ := res["success"].(bool); !ok {
		m.t.Fatalf("testenv: GET /stop: %v", res)
	}
}

// ResetStats resets the master's statistics (GET /stats/reset).
func (m *Master) ResetStats() {
	m.t.Helper()
	m.web(http.MethodGet, "/stats/reset", nil, nil)
}

// WebStats is the web UI's /stats/requests answer (Locust 2.12.1).
type WebStats struct {
	Stats     []WebStatsEntry  `json:"stats"` // sorted by (name, method); the last is Aggregated
	Errors    []map[string]any `json:"errors"`
	TotalRPS  float64          `json:"total_rps"`
	FailRatio float64          `json:"fail_ratio"`
	State     string           `json:"state"` // ready, spawning, running, stopping, stopped, ...
	UserCount int              `json:"user_count"`
	Workers   []WebWorker      `json:"workers"`
}

// WebStatsEntry is one row of WebStats.
type WebStatsEntry struct {
	Method             *string `json:"method"` // null for Aggregated before the first reset
	Name               string  `json:"name"`
	NumRequests        int64   `json:"num_requests"`
	NumFailures        int64   `json:"num_failures"`
	AvgResponseTime    float64 `json:"avg_response_time"`
	MinResponseTime    float64 `json:"min_response_time"`
	MaxResponseTime    float64 `json:"max_response_time"`
	MedianResponseTime float64 `json:"median_response_time"`
	CurrentRPS         float64 `json:"current_rps"`
	CurrentFailPerSec  float64 `json:"current_fail_per_sec"`
	AvgContentLength   float64 `json:"avg_content_length"`
}

// WebWorker is the master's view of one worker.
type WebWorker struct {
	ID          string  `json:"id"`
	State       string  `json:"state"`
	UserCount   int     `json:"user_count"`
	CPUUsage    float64 `json:"cpu_usage"`
	MemoryUsage int64   `json:"memory_usage"`
}

// Aggregated returns the Aggregated row.
func (s WebStats) Aggregated() WebStatsEntry {
	for _, e := range s.Stats {
		if e.Name == "Aggregated" && (e.Method == nil || *e.Method == "") {
			return e
		}
	}
	return WebStatsEntry{Name: "Aggregated"}
}

// Stats fetches /stats/requests. Locust caches that answer for up to 2 s, so poll
// (with a deadline) rather than expect every change at once.
func (m *Master) Stats() WebStats {
	m.t.Helper()
	var s WebStats
	m.web(http.MethodGet, "/stats/requests", nil, &s)
	return s
}

func (m *Master) web(method, path string, form url.Values, out any) {
	m.t.Helper()
	if m.WebPort == 0 {
		m.t.Fatalf("testenv: %s %s: the master runs headless, without a web UI", method, path)
	}
	c := http.Client{Timeout: 10 * time.Second}
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(m.WebURL()+path, form)
	} else {
		resp, err = c.Get(m.WebURL() + path)
	}
	if err != nil {
		m.t.Fatalf("testenv: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		m.t.Fatalf("testenv: %s %s: %s %v\n%s", method, path, resp.Status, err, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			m.t.Fatalf("testenv: %s %s: %v\n%s", method, path, err, body)
		}
	}
}
