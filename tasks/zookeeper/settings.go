package zookeeper

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/connstr"
)

// ExceptionBehavior is what a failed request does (zk-locust's ZK_LOCUST_EXCEPTION_BEHAVIOR).
type ExceptionBehavior int

const (
	// LogFailure records the request as a failure with the ZooKeeper error as its text.
	LogFailure ExceptionBehavior = iota
	// TrySuppress drops failed requests from the stats, except session expiry, which is
	// always recorded.
	TrySuppress
	// Propagate reports the error as an exception (Locust's Exceptions tab) and records
	// nothing; the user carries on.
	Propagate
)

func (b ExceptionBehavior) String() string {
	switch b {
	case TrySuppress:
		return "try-suppress"
	case Propagate:
		return "propagate"
	}
	return "log-failure"
}

// Settings are the effective settings of the ZooKeeper workloads.
type Settings struct {
	// Servers are the ensemble's client addresses (host:port); Chroot is the connect
	// string's chroot suffix ("" for none), prefixed to every path.
	Servers []string
	Chroot  string
	// PseudoRoot is the znode under which workloads work (default /kl).
	PseudoRoot string
	// MinWait and MaxWait bound the closed-loop think time between tasks.
	MinWait, MaxWait time.Duration
	// KeySize is the length of a key's last path component (c-000042: 8); KeySpace is
	// the number of shared keys (default 128); ValSize is the size of written values.
	KeySize, KeySpace, ValSize int
	// SizedNames appends the value size to task-set names (set_512_B), as zk-locust's
	// sequence did; it is on when the value size was set explicitly.
	SizedNames bool
	Exceptions ExceptionBehavior
	// IgnoreConnectionDown skips (records nothing for) operations while the session is
	// not connected.
	IgnoreConnectionDown bool
	SessionTimeout       time.Duration
	// Digest is "user:password": every session adds it with addauth digest, and created
	// znodes get the creator-only ACL.
	Digest string
	// SASLUser and SASLPassword authenticate every session with SASL DIGEST-MD5.
	SASLUser, SASLPassword string
	// Rate, if > 0, runs an open loop: that many operations per second per worker, spread
	// evenly over time across its users.
	Rate float64
	// Outstanding is the number of requests each session keeps in flight (default 1).
	Outstanding int
	// Bench holds the open-ended --bench-NAME settings.
	Bench Bench
}

// Setting describes one setting: its worker flag, its environment variable and, when
// the master may set it, the name of its custom option in the master's parsed options.
type Setting struct {
	Flag   string // without dashes: "key-size"
	Env    string // "ZK_LOCUST_KEY_SIZE"
	Option string // "zk_key_size"; empty when the master cannot set it
	// Default is the value when no source sets it, as text.
	Default string
	Help    string
	// Expect says what a valid value is, for error messages.
	Expect string
	// Secret settings are never taken from the master nor shown in its web UI.
	Secret bool
	apply  func(s *Settings, v string) error
}

// errExpect marks a value that does not parse; the caller names the setting.
type errExpect struct{}

func (errExpect) Error() string { return "bad value" }

func intIn(lo, hi int, dst func(*Settings) *int) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return errExpect{}
		}
		*dst(s) = n
		return nil
	}
}

func millis(dst func(*Settings) *time.Duration) func(*Settings, string) error {
	return func(s *Settings, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e9 {
			return errExpect{}
		}
		*dst(s) = time.Duration(f * float64(time.Millisecond))
		return nil
	}
}

// ParseBool accepts the spellings Python users type: 1/0, true/false, yes/no, on/off.
func ParseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on", "y", "t":
		return true, true
	case "0", "false", "no", "off", "n", "f", "":
		return false, true
	}
	// zk-locust: "when it is > 0".
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return n > 0, true
	}
	return false, false
}

// AllSettings returns every ZooKeeper setting, in the order help shows them.
func AllSettings() []Setting {
	return []Setting{
		{Flag: "hosts", Env: "ZK_LOCUST_HOSTS", Default: "",
			Help:   "ZooKeeper ensemble, host:port[,host:port...][/chroot] (else the master's Host, -H zk://...)",
			Expect: "host:port[,host:port...][/chroot], ports 1-65535",
			apply: func(s *Settings, v string) error {
				servers, chroot, err := connstr.Parse(v)
				if err != nil {
					return err
				}
				s.Servers, s.Chroot = servers, chroot
				return nil
			}},
		{Flag: "pseudo-root", Env: "ZK_LOCUST_PSEUDO_ROOT", Option: "zk_pseudo_root", Default: "/kl",
			Help:   "znode under which the workloads work (not a chroot; zkload cleanup deletes it)",
			Expect: "an absolute znode path other than / such as /kl",
			apply: func(s *Settings, v string) error {
				p, err := connstr.ZnodePath(v)
				if err != nil || p == "/" || p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") {
					return errExpect{}
				}
				s.PseudoRoot = p
				return nil
			}},
		{Flag: "min-wait", Env: "ZK_LOCUST_MIN_WAIT", Option: "zk_min_wait", Default: "0",
			Help: "closed loop: least think time between tasks, in ms", Expect: "milliseconds, 0 or more",
			apply: millis(func(s *Settings) *time.Duration { return &s.MinWait })},
		{Flag: "max-wait", Env: "ZK_LOCUST_MAX_WAIT", Option: "zk_max_wait", Default: "",
			Help: "closed loop: most think time between tasks, in ms (default: min-wait)", Expect: "milliseconds, 0 or more",
			apply: millis(func(s *Settings) *time.Duration { return &s.MaxWait })},
		{Flag: "key-size", Env: "ZK_LOCUST_KEY_SIZE", Option: "zk_key_size", Default: "8",
			Help: "length of a key's name, c-000042 (8)", Expect: "an integer from 3 to 64",
			apply: intIn(3, 64, func(s *Settings) *int { return &s.KeySize })},
		{Flag: "key-space", Env: "ZK_LOCUST_KEY_SPACE", Option: "zk_key_space", Default: "128",
			Help: "number of shared keys c-000000 ... (all users of all workers share them)", Expect: "an integer from 1 to 10000000",
			apply: intIn(1, 10_000_000, func(s *Settings) *int { return &s.KeySpace })},
		{Flag: "val-size", Env: "ZK_LOCUST_VAL_SIZE", Option: "zk_val_size", Default: "8",
			Help: "size of written values in bytes; when set, task-set names carry it (set_512_B)", Expect: "an integer from 1 to 1048576",
			apply: intIn(1, 1<<20, func(s *Settings) *int { return &s.ValSize })},
		{Flag: "exception-behavior", Env: "ZK_LOCUST_EXCEPTION_BEHAVIOR", Option: "zk_exception_behavior", Default: "log-failure",
			Help: "what a failed request does: log-failure, try-suppress or propagate", Expect: "log-failure, try-suppress or propagate",
			apply: func(s *Settings, v string) error {
				n := strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(v)))
				switch n {
				case "logfailure":
					s.Exceptions = LogFailure
				case "trysuppress":
					s.Exceptions = TrySuppress
				case "propagate":
					s.Exceptions = Propagate
				default:
					return errExpect{}
				}
				return nil
			}},
		{Flag: "ignore-connection-down", Env: "ZK_LOCUST_IGNORE_CONNECTION_DOWN", Option: "zk_ignore_connection_down", Default: "0",
			Help: "skip operations (record nothing) while the session is disconnected: 1 or 0", Expect: "1 or 0 (true/false)",
			apply: func(s *Settings, v string) error {
				b, ok := ParseBool(v)
				if !ok {
					return errExpect{}
				}
				s.IgnoreConnectionDown = b
				return nil
			}},
		{Flag: "session-timeout", Env: "ZK_LOCUST_TIMEOUT_S", Option: "zk_session_timeout", Default: "10",
			Help: "session timeout in seconds", Expect: "seconds, from 0.1 to 3600",
			apply: func(s *Settings, v string) error {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0.1 || f > 3600 {
					return errExpect{}
				}
				s.SessionTimeout = time.Duration(f * float64(time.Second))
				return nil
			}},
		{Flag: "digest", Env: "ZK_LOCUST_DIGEST", Default: "", Secret: true,
			Help:   "user:password for addauth digest; created znodes get the creator-only ACL",
			Expect: "user:password",
			apply: func(s *Settings, v string) error {
				if v == "" {
					s.Digest = ""
					return nil
				}
				u, _, ok := strings.Cut(v, ":")
				if !ok || u == "" {
					return errExpect{}
				}
				s.Digest = v
				return nil
			}},
		{Flag: "sasl-options", Env: "ZK_LOCUST_SASL_OPTIONS", Default: "", Secret: true,
			Help:   `SASL credentials as Kazoo takes them: {"mechanism":"DIGEST-MD5","username":"u","password":"p"}`,
			Expect: `a JSON object {"mechanism":"DIGEST-MD5","username":...,"password":...}`,
			apply: func(s *Settings, v string) error {
				if strings.TrimSpace(v) == "" {
					s.SASLUser, s.SASLPassword = "", ""
					return nil
				}
				u, p, err := parseSASLOptions(v)
				if err != nil {
					return err
				}
				s.SASLUser, s.SASLPassword = u, p
				return nil
			}},
		{Flag: "rate", Env: "ZK_LOCUST_RATE", Option: "zk_rate", Default: "0",
			Help: "open loop: operations per second per worker, spread evenly across its users (0: closed loop)", Expect: "operations per second, 0 or more",
			apply: func(s *Settings, v string) error {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1e7 || math.IsNaN(f) {
					return errExpect{}
				}
				s.Rate = f
				return nil
			}},
		{Flag: "outstanding", Env: "ZK_LOCUST_OUTSTANDING", Option: "zk_outstanding", Default: "1",
			Help: "requests each session keeps in flight (pipelining)", Expect: "an integer from 1 to 10000",
			apply: intIn(1, 10000, func(s *Settings) *int { return &s.Outstanding })},
	}
}

// Source names where a value came from, for error messages: "--key-size",
// "ZK_LOCUST_KEY_SIZE" or "master option zk_key_size".
type Source int

// Sources, from the highest precedence.
const (
	FromFlag Source = iota
	FromEnv
	FromMaster
	FromDefault
)

// Layers are the values given by each source, keyed by Setting.Flag. A setting absent
// from a layer (or empty in the master's) is not set by it.
type Layers struct {
	Flags map[string]string
	Env   map[string]string
	// Master is the master's parsed options (custom arguments of the locustfile).
	Master map[string]any
	// Host is the user's effective host (worker --host, else the master's Host/-H).
	Host string
	// Bench holds --bench-NAME flags and BenchEnv the ZK_LOCUST_BENCH_NAME variables
	// (both keyed by name, normalized by NormalizeBenchName).
	Bench, BenchEnv map[string]string
}

// EnvLayer reads the settings' environment variables (and zk-locust's KAZOO_LOCUST_*
// aliases) from env, as os.Environ returns it (nil: the process environment).
func EnvLayer(env []string) (map[string]string, map[string]string) {
	if env == nil {
		env = os.Environ()
	}
	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	out := map[string]string{}
	for _, s := range AllSettings() {
		if v, ok := vals[s.Env]; ok && v != "" {
			out[s.Flag] = v
			continue
		}
		// zk-locust's older names.
		if alias := strings.Replace(s.Env, "ZK_LOCUST_", "KAZOO_LOCUST_", 1); alias != s.Env {
			if v, ok := vals[alias]; ok && v != "" {
				out[s.Flag] = v
			}
		}
	}
	bench := map[string]string{}
	for k, v := range vals {
		if name, ok := strings.CutPrefix(k, "ZK_LOCUST_BENCH_"); ok && name != "" {
			bench[NormalizeBenchName(name)] = v
		}
	}
	return out, bench
}

// describe names a setting's source for messages.
func describe(s Setting, src Source) string {
	switch src {
	case FromFlag:
		return "--" + s.Flag
	case FromEnv:
		return s.Env
	case FromMaster:
		return "master option " + s.Option
	}
	return "default " + s.Flag
}

// Resolve computes the effective settings: for each setting the worker's flag, else its
// environment variable, else the master's custom option, else the default. The ensemble
// comes from --hosts, else ZK_LOCUST_HOSTS, else the user's host (worker --host or the
// master's -H) when it is a zk:// URL or a host:port list. Errors name the setting and
// say what is expected, in one line.
func Resolve(l Layers) (*Settings, error) {
	s := &Settings{}
	var maxWaitSet, valSizeSet bool
	for _, st := range AllSettings() {
		v, src := st.Default, FromDefault
		if x, ok := l.Flags[st.Flag]; ok {
			v, src = x, FromFlag
		} else if x, ok := l.Env[st.Flag]; ok {
			v, src = x, FromEnv
		} else if x, ok := masterValue(l.Master, st); ok {
			v, src = x, FromMaster
		}
		if st.Flag == "hosts" && src == FromDefault {
			if l.Host == "" {
				continue
			}
			servers, chroot, err := connstr.Parse(l.Host)
			if err != nil {
				return nil, fmt.Errorf("host %q (worker --host or master -H): %w; want zk://host:port[,host:port...][/chroot]", l.Host, err)
			}
			s.Servers, s.Chroot = servers, chroot
			continue
		}
		if st.Flag == "max-wait" && src == FromDefault {
			continue
		}
		if err := st.apply(s, v); err != nil {
			detail := ""
			if _, ok := err.(errExpect); !ok {
				detail = " (" + err.Error() + ")"
			}
			return nil, fmt.Errorf("%s %q: want %s%s", describe(st, src), v, st.Expect, detail)
		}
		switch st.Flag {
		case "max-wait":
			maxWaitSet = true
		case "val-size":
			valSizeSet = src != FromDefault
		}
	}
	if !maxWaitSet || s.MaxWait < s.MinWait {
		// zk-locust: the maximum defaults to, and is at least, the minimum.
		s.MaxWait = s.MinWait
	}
	s.SizedNames = valSizeSet
	if len(s.Servers) == 0 {
		return nil, fmt.Errorf("no ZooKeeper ensemble: set --hosts or ZK_LOCUST_HOSTS (host:port[,host:port...][/chroot]), or the master's Host (-H zk://host:port,...)")
	}
	s.Bench = NewBench(l.Bench, l.BenchEnv, l.Master)
	return s, nil
}

// masterValue returns the master's value of a setting's custom option; empty values
// (the locustfile's defaults) do not count.
func masterValue(m map[string]any, st Setting) (string, bool) {
	if st.Option == "" || st.Secret || m == nil {
		return "", false
	}
	raw, ok := m[st.Option]
	if !ok || raw == nil {
		return "", false
	}
	var v string
	switch x := raw.(type) {
	case string:
		v = x
	case bool:
		v = strconv.FormatBool(x)
	case int64:
		v = strconv.FormatInt(x, 10)
	case int:
		v = strconv.Itoa(x)
	case uint64:
		v = strconv.FormatUint(x, 10)
	case float64:
		v = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		v = fmt.Sprint(x)
	}
	if strings.TrimSpace(v) == "" {
		return "", false
	}
	return v, true
}

// NormalizeBenchName turns THE_ANSWER, the-answer and the_answer into the_answer.
func NormalizeBenchName(n string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(n)), "-", "_")
}

// Bench gives workloads typed access to the open-ended settings: --bench-NAME VALUE,
// ZK_LOCUST_BENCH_NAME, or the master's custom option zk_bench_name, in that order.
type Bench struct {
	flags  map[string]string
	env    map[string]string // the env layer: bench values are under "bench:" keys
	master map[string]any
}

// NewBench returns a Bench from explicit flag, environment and master values (names
// are normalized as NormalizeBenchName does).
func NewBench(flags, env map[string]string, master map[string]any) Bench {
	b := Bench{flags: map[string]string{}, env: map[string]string{}, master: master}
	for k, v := range flags {
		b.flags[NormalizeBenchName(k)] = v
	}
	for k, v := range env {
		b.env["bench:"+NormalizeBenchName(k)] = v
	}
	return b
}

// Lookup returns the raw value of a bench setting and where it came from.
func (b Bench) Lookup(name string) (string, string, bool) {
	n := NormalizeBenchName(name)
	if v, ok := b.flags[n]; ok {
		return v, "--bench-" + strings.ReplaceAll(n, "_", "-"), true
	}
	if v, ok := b.env["bench:"+n]; ok {
		return v, "ZK_LOCUST_BENCH_" + strings.ToUpper(n), true
	}
	if v, ok := masterValue(b.master, Setting{Option: "zk_bench_" + n}); ok {
		return v, "master option zk_bench_" + n, true
	}
	return "", "", false
}

// Names lists the bench settings given, sorted.
func (b Bench) Names() []string {
	seen := map[string]bool{}
	for k := range b.flags {
		seen[k] = true
	}
	for k := range b.env {
		if n, ok := strings.CutPrefix(k, "bench:"); ok {
			seen[n] = true
		}
	}
	for k := range b.master {
		if n, ok := strings.CutPrefix(k, "zk_bench_"); ok {
			if _, set := masterValue(b.master, Setting{Option: k}); set {
				seen[n] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// String returns a bench setting, or def when it is not set.
func (b Bench) String(name, def string) string {
	if v, _, ok := b.Lookup(name); ok {
		return v
	}
	return def
}

// Int returns a bench setting as an integer, def when unset; a malformed value is an
// error naming the setting.
func (b Bench) Int(name string, def int) (int, error) {
	v, src, ok := b.Lookup(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return def, fmt.Errorf("%s %q: want an integer", src, v)
	}
	return n, nil
}

// Float returns a bench setting as a number, def when unset.
func (b Bench) Float(name string, def float64) (float64, error) {
	v, src, ok := b.Lookup(name)
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return def, fmt.Errorf("%s %q: want a number", src, v)
	}
	return f, nil
}

// Bool returns a bench setting as a boolean (1/0, true/false, yes/no), def when unset.
func (b Bench) Bool(name string, def bool) (bool, error) {
	v, src, ok := b.Lookup(name)
	if !ok {
		return def, nil
	}
	x, ok := ParseBool(v)
	if !ok {
		return def, fmt.Errorf("%s %q: want 1 or 0 (true/false)", src, v)
	}
	return x, nil
}

// Millis returns a bench setting given in milliseconds (zk-locust's *_MS convention) as
// a duration, def when unset.
func (b Bench) Millis(name string, def time.Duration) (time.Duration, error) {
	v, src, ok := b.Lookup(name)
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f < 0 {
		return def, fmt.Errorf("%s %q: want milliseconds, 0 or more", src, v)
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

// Check validates the values the worker itself was given (flags and environment), so
// that a bad one stops the command at once; the master's values are checked when users
// start. The ensemble may be missing here: it can come from the master.
func Check(l Layers) error {
	for _, st := range AllSettings() {
		v, src, ok := "", FromDefault, false
		if x, set := l.Flags[st.Flag]; set {
			v, src, ok = x, FromFlag, true
		} else if x, set := l.Env[st.Flag]; set {
			v, src, ok = x, FromEnv, true
		}
		if !ok {
			continue
		}
		var scratch Settings
		if err := st.apply(&scratch, v); err != nil {
			detail := ""
			if _, plain := err.(errExpect); !plain {
				detail = " (" + err.Error() + ")"
			}
			return fmt.Errorf("%s %q: want %s%s", describe(st, src), v, st.Expect, detail)
		}
	}
	return nil
}
