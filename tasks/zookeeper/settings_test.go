package zookeeper

import (
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/setting"
)

// layers returns the worker's layers with the given flags and an environment as
// os.Environ gives it, nothing from the process's own.
func layers(flags map[string]string, env ...string) setting.Layers {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return setting.Layers{Flags: flags, Environ: append([]string{}, env...),
		LookupEnv: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func TestResolvePrecedence(t *testing.T) {
	master := map[string]any{"zk_key_size": "12", "zk_val_size": "512", "zk_min_wait": "5", "zk_rate": "", "zk_outstanding": "4", "zk_bench_answer": "41"}
	flags := map[string]string{"key-size": "10", "bench-answer": "42"}
	benchEnv := []string{"ZK_LOCUST_BENCH_ANSWER=40", "ZK_LOCUST_BENCH_OTHER=x"}
	l := layers(flags, append([]string{"ZK_LOCUST_KEY_SIZE=11", "ZK_LOCUST_VAL_SIZE=100", "ZK_LOCUST_HOSTS=e:1"}, benchEnv...)...)
	l.Master = master
	s, err := Resolve(l, "zk://m:2/chroot")
	if err != nil {
		t.Fatal(err)
	}
	if s.KeySize != 10 || s.ValSize != 100 || !s.SizedNames || s.MinWait != 5*time.Millisecond || s.MaxWait != 5*time.Millisecond ||
		s.Outstanding != 4 || s.Rate != 0 || strings.Join(s.Servers, ",") != "e:1" || s.Chroot != "" || s.PseudoRoot != "/kl" {
		t.Errorf("flag > env > master > default not applied: %+v", s)
	}
	if n, err := s.Bench.Int("answer", 0); n != 42 || err != nil {
		t.Errorf("bench answer = %d, %v; want the flag's 42", n, err)
	}
	if v := s.Bench.String("other", ""); v != "x" {
		t.Errorf("bench other from env = %q", v)
	}
	if names := s.Bench.Names(); strings.Join(names, ",") != "answer,other" {
		t.Errorf("bench names %v", names)
	}
	// Without --hosts or the env, the user's host (master -H) gives the ensemble.
	l = layers(flags, benchEnv...)
	l.Master = master
	s, err = Resolve(l, "zk://m:2/chroot")
	if err != nil || strings.Join(s.Servers, ",") != "m:2" || s.Chroot != "/chroot" || s.Root() != "/chroot/kl" {
		t.Fatalf("ensemble from host: %+v, %v", s, err)
	}
	if s.SizedNames != true || s.ValSize != 512 {
		t.Errorf("master val size not applied: %+v", s)
	}
	if _, err := s.Bench.Int("missing", 7); err != nil {
		t.Error(err)
	}
	if _, err := NewBench(layers(map[string]string{"bench-n": "x"})).Int("n", 0); err == nil || err.Error() != `--bench-n "x": want an integer` {
		t.Errorf("bad bench int: %v", err)
	}
	// Bench values from the master name it as other settings do.
	mb := NewBench(setting.Layers{Environ: []string{}, Master: map[string]any{"zk_bench_wait_ms": "soon", "zk_bench_empty": ""}})
	if _, err := mb.Millis("wait-ms", 0); err == nil || err.Error() != `master option --zk-bench-wait-ms "soon": want milliseconds, 0 or more` {
		t.Errorf("bad master bench millis: %v", err)
	}
	if names := mb.Names(); strings.Join(names, ",") != "wait_ms" {
		t.Errorf("master bench names %v; an empty option is not set", names)
	}
}

// TestBenchTypes: each typed getter parses a set value (trimmed), keeps its default when
// unset, and names the setting and what it wants when the value is malformed.
func TestBenchTypes(t *testing.T) {
	b := NewBench(layers(map[string]string{"bench-f": " 2.5 ", "bench-b": "yes", "bench-ms": "1.5",
		"bench-badf": "x", "bench-badb": "maybe", "bench-negms": "-1", "bench-n": " 7"}))
	if f, err := b.Float("f", 0); f != 2.5 || err != nil {
		t.Errorf("Float = %v, %v", f, err)
	}
	if v, err := b.Bool("b", false); !v || err != nil {
		t.Errorf("Bool = %v, %v", v, err)
	}
	if d, err := b.Millis("ms", 0); d != 1500*time.Microsecond || err != nil {
		t.Errorf("Millis = %v, %v", d, err)
	}
	if n, err := b.Int("n", 0); n != 7 || err != nil {
		t.Errorf("Int = %v, %v", n, err)
	}
	if f, err := b.Float("unset", 1.25); f != 1.25 || err != nil {
		t.Errorf("unset Float = %v, %v", f, err)
	}
	if v, err := b.Bool("unset", true); !v || err != nil {
		t.Errorf("unset Bool = %v, %v", v, err)
	}
	if d, err := b.Millis("unset", time.Second); d != time.Second || err != nil {
		t.Errorf("unset Millis = %v, %v", d, err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{second(b.Float("badf", 0)), `--bench-badf "x": want a number`},
		{second(b.Bool("badb", false)), `--bench-badb "maybe": want 1 or 0 (true/false)`},
		{second(b.Millis("negms", 0)), `--bench-negms "-1": want milliseconds, 0 or more`},
	} {
		if c.err == nil || c.err.Error() != c.want {
			t.Errorf("got %v, want %s", c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestResolveErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		l    setting.Layers
		host string
		want string
	}{
		{layers(map[string]string{"hosts": "a:1", "key-size": "2"}), "", `--key-size "2": want an integer from 3 to 64`},
		{layers(nil, "ZK_LOCUST_HOSTS=a:1", "ZK_LOCUST_EXCEPTION_BEHAVIOR=x"), "", `ZK_LOCUST_EXCEPTION_BEHAVIOR "x": want log-failure, try-suppress or propagate`},
		{setting.Layers{Flags: map[string]string{"hosts": "a:1"}, LookupEnv: layers(nil).LookupEnv, Environ: []string{}, Master: map[string]any{"zk_outstanding": "0"}}, "",
			`master option --zk-outstanding "0": want an integer from 1 to 10000`},
		{layers(nil), "http://x", `host "http://x"`},
		{layers(nil), "", "no ZooKeeper ensemble"},
		{layers(map[string]string{"hosts": "a:1", "pseudo-root": "/zookeeper"}), "", `--pseudo-root "/zookeeper"`},
		{layers(map[string]string{"hosts": "a:0"}), "", `--hosts "a:0": want host:port[,host:port...][/chroot], ports 1-65535 (`},
	}
	for _, c := range cases {
		_, err := Resolve(c.l, c.host)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Resolve(%+v, %q) = %v; want one line with %q", c.l.Flags, c.host, err, c.want)
		}
	}
	// Exception behaviour matching ignores case, - and _ (as zk-locust).
	s, err := Resolve(layers(map[string]string{"hosts": "a:1", "exception-behavior": "TRY_SUPPRESS"}), "")
	if err != nil || s.Exceptions != TrySuppress {
		t.Errorf("TRY_SUPPRESS: %v %v", s, err)
	}
	// Check validates only what the worker itself was given.
	if err := (Workload{}).Check(layers(nil, "ZK_LOCUST_VAL_SIZE=0")); err == nil || !strings.Contains(err.Error(), "ZK_LOCUST_VAL_SIZE") {
		t.Errorf("Check: %v", err)
	}
	if err := (Workload{}).Check(layers(nil)); err != nil {
		t.Errorf("Check without hosts: %v", err)
	}
	l := layers(nil)
	l.Master = map[string]any{"zk_outstanding": "0"}
	if err := (Workload{}).Check(l); err != nil {
		t.Errorf("Check looked at the master's options: %v", err)
	}
}

func TestEnvAliases(t *testing.T) {
	l := layers(nil, "KAZOO_LOCUST_HOSTS=k:1", "ZK_LOCUST_KEY_SIZE=9", "KAZOO_LOCUST_KEY_SIZE=10", "KAZOO_LOCUST_TIMEOUT_S=3", "ZK_LOCUST_BENCH_THE_ANSWER=42", "ZK_LOCUST_VAL_SIZE=")
	s, err := Resolve(l, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Servers, ",") != "k:1" || s.KeySize != 9 || s.SessionTimeout != 3*time.Second {
		t.Errorf("KAZOO_LOCUST_* aliases (ZK_LOCUST_* first): %+v", s)
	}
	if n, err := s.Bench.Int("the_answer", 0); n != 42 || err != nil {
		t.Errorf("bench the_answer = %d, %v", n, err)
	}
	if s.SizedNames || s.ValSize != 8 {
		t.Errorf("an empty variable must not count as set: %+v", s)
	}
}
