package zookeeper

import (
	"fmt"
	"strings"
	"time"

	"github.com/zkload/zkload/connstr"
	"github.com/zkload/zkload/setting"
)

// entry is one row of the settings table: the setting and how its value sets Settings.
type entry struct {
	setting.Spec
	// apply parses v into s; a bad value is an error naming v's source (v.Bad).
	apply func(s *Settings, v setting.Value) error
}

// group is the help section of every ZooKeeper setting.
const group = "ZooKeeper"

// settingsTable returns zk-locust's settings, in the order help shows them; every one
// is also read from zk-locust's older KAZOO_LOCUST_* variable.
func settingsTable() []*entry {
	t := []*entry{
		{Spec: setting.Spec{Flag: "hosts", Arg: "HOSTS", Env: "ZK_LOCUST_HOSTS", Default: "",
			Help:   "ZooKeeper ensemble, host:port[,host:port...][/chroot] (else the master's Host, -H zk://...)",
			Expect: "host:port[,host:port...][/chroot], ports 1-65535"},
			apply: func(s *Settings, v setting.Value) error {
				servers, chroot, err := connstr.Parse(v.Text)
				if err != nil {
					return badBecause(v, err)
				}
				s.Servers, s.Chroot = servers, chroot
				return nil
			}},
		{Spec: setting.Spec{Flag: "pseudo-root", Arg: "PATH", Env: "ZK_LOCUST_PSEUDO_ROOT", Option: "zk_pseudo_root", Default: "/kl",
			Help:   "znode under which the workloads work (not a chroot; zkload cleanup deletes it)",
			Expect: "an absolute znode path other than / such as /kl"},
			apply: func(s *Settings, v setting.Value) error {
				p, err := connstr.ZnodePath(v.Text)
				if err != nil || p == "/" || p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/") {
					return v.Bad()
				}
				s.PseudoRoot = p
				return nil
			}},
		{Spec: setting.Spec{Flag: "min-wait", Arg: "MS", Env: "ZK_LOCUST_MIN_WAIT", Option: "zk_min_wait", Default: "0",
			Help: "closed loop: least think time between tasks, in ms", Expect: "milliseconds, 0 or more"},
			apply: millis(func(s *Settings) *time.Duration { return &s.MinWait })},
		{Spec: setting.Spec{Flag: "max-wait", Arg: "MS", Env: "ZK_LOCUST_MAX_WAIT", Option: "zk_max_wait", Default: "",
			Help: "closed loop: most think time between tasks, in ms (default: min-wait)", Expect: "milliseconds, 0 or more"},
			apply: millis(func(s *Settings) *time.Duration { return &s.MaxWait })},
		{Spec: setting.Spec{Flag: "key-size", Arg: "N", Env: "ZK_LOCUST_KEY_SIZE", Option: "zk_key_size", Default: "8",
			Help: "length of a key's name, c-000042 (8)", Expect: "an integer from 3 to 64"},
			apply: intIn(3, 64, func(s *Settings) *int { return &s.KeySize })},
		{Spec: setting.Spec{Flag: "key-space", Arg: "N", Env: "ZK_LOCUST_KEY_SPACE", Option: "zk_key_space", Default: "128",
			Help: "number of shared keys c-000000 ... (all users of all workers share them)", Expect: "an integer from 1 to 10000000"},
			apply: intIn(1, 10_000_000, func(s *Settings) *int { return &s.KeySpace })},
		{Spec: setting.Spec{Flag: "val-size", Arg: "BYTES", Env: "ZK_LOCUST_VAL_SIZE", Option: "zk_val_size", Default: "8",
			Help: "size of written values in bytes; when set, task-set names carry it (set_512_B)", Expect: "an integer from 1 to 1048576"},
			apply: intIn(1, 1<<20, func(s *Settings) *int { return &s.ValSize })},
		{Spec: setting.Spec{Flag: "exception-behavior", Arg: "BEHAVIOR", Env: "ZK_LOCUST_EXCEPTION_BEHAVIOR", Option: "zk_exception_behavior", Default: "log-failure",
			Help: "what a failed request does: log-failure, try-suppress or propagate", Expect: "log-failure, try-suppress or propagate"},
			apply: func(s *Settings, v setting.Value) error {
				// As zk-locust: case, - and _ do not matter.
				switch strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(v.Text))) {
				case "logfailure":
					s.Exceptions = LogFailure
				case "trysuppress":
					s.Exceptions = TrySuppress
				case "propagate":
					s.Exceptions = Propagate
				default:
					return v.Bad()
				}
				return nil
			}},
		{Spec: setting.Spec{Flag: "ignore-connection-down", Arg: "0|1", Env: "ZK_LOCUST_IGNORE_CONNECTION_DOWN", Option: "zk_ignore_connection_down", Default: "0",
			Help: "skip operations (record nothing) while the session is disconnected: 1 or 0", Expect: "1 or 0 (true/false)"},
			apply: func(s *Settings, v setting.Value) (err error) {
				s.IgnoreConnectionDown, err = v.Bool()
				return err
			}},
		{Spec: setting.Spec{Flag: "session-timeout", Arg: "SECONDS", Env: "ZK_LOCUST_TIMEOUT_S", Option: "zk_session_timeout", Default: "10",
			Help: "session timeout in seconds", Expect: "seconds, from 0.1 to 3600"},
			apply: func(s *Settings, v setting.Value) error {
				f, err := v.Float(0.1, 3600)
				s.SessionTimeout = time.Duration(f * float64(time.Second))
				return err
			}},
		{Spec: setting.Spec{Flag: "digest", Arg: "USER:PASSWORD", Env: "ZK_LOCUST_DIGEST", Default: "", Secret: true,
			Help:   "user:password for addauth digest; created znodes get the creator-only ACL",
			Expect: "user:password"},
			apply: func(s *Settings, v setting.Value) error {
				if v.Text == "" {
					s.Digest = ""
					return nil
				}
				if u, _, ok := strings.Cut(v.Text, ":"); !ok || u == "" {
					return v.Bad()
				}
				s.Digest = v.Text
				return nil
			}},
		{Spec: setting.Spec{Flag: "sasl-options", Arg: "JSON", Env: "ZK_LOCUST_SASL_OPTIONS", Default: "", Secret: true,
			Help:   `SASL credentials as Kazoo takes them: {"mechanism":"DIGEST-MD5","username":"u","password":"p"}`,
			Expect: `a JSON object {"mechanism":"DIGEST-MD5","username":...,"password":...}`},
			apply: func(s *Settings, v setting.Value) error {
				if strings.TrimSpace(v.Text) == "" {
					s.SASLUser, s.SASLPassword = "", ""
					return nil
				}
				u, p, err := parseSASLOptions(v.Text)
				if err != nil {
					return badBecause(v, err)
				}
				s.SASLUser, s.SASLPassword = u, p
				return nil
			}},
		{Spec: setting.Spec{Flag: "rate", Arg: "OPS", Env: "ZK_LOCUST_RATE", Option: "zk_rate", Default: "0",
			Help: "open loop: operations per second, spread evenly across the users (0: closed loop); a worker's own setting is its rate, the master's the fleet's, split over the workers", Expect: "operations per second, 0 or more"},
			apply: func(s *Settings, v setting.Value) (err error) {
				s.Rate, err = v.Float(0, 1e7)
				return err
			}},
		{Spec: setting.Spec{Flag: "outstanding", Arg: "N", Env: "ZK_LOCUST_OUTSTANDING", Option: "zk_outstanding", Default: "1",
			Help: "requests each session keeps in flight (pipelining)", Expect: "an integer from 1 to 10000"},
			apply: intIn(1, 10000, func(s *Settings) *int { return &s.Outstanding })},
	}
	for _, e := range t {
		e.Group = group
		e.EnvAliases = []string{strings.Replace(e.Env, "ZK_LOCUST_", "KAZOO_LOCUST_", 1)}
	}
	return t
}

// badBecause is v.Bad with the cause in parentheses: `--hosts "x": want host:port...
// (missing port)`.
func badBecause(v setting.Value, cause error) error {
	return fmt.Errorf("%s %q: want %s (%w)", v.Name(), v.Text, v.Spec.Expect, cause)
}

func intIn(lo, hi int, dst func(*Settings) *int) func(*Settings, setting.Value) error {
	return func(s *Settings, v setting.Value) (err error) {
		*dst(s), err = v.Int(lo, hi)
		return err
	}
}

func millis(dst func(*Settings) *time.Duration) func(*Settings, setting.Value) error {
	return func(s *Settings, v setting.Value) (err error) {
		*dst(s), err = v.Millis()
		return err
	}
}
