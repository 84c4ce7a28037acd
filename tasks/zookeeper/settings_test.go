package zookeeper

import (
	"strings"
	"testing"
	"time"
)

func TestSizeSuffixAndKeyPath(t *testing.T) {
	for n, want := range map[int]string{8: "8_B", 512: "512_B", 1023: "1023_B", 1024: "1.0_KiB", 8192: "8.0_KiB", 1536: "1.5_KiB", 10000: "9.766_KiB"} {
		if got := SizeSuffix(n); got != want {
			t.Errorf("SizeSuffix(%d) = %q, want %q", n, got, want)
		}
	}
	if got := KeyPath("/kl", 8, 42); got != "/kl/c-000042" {
		t.Errorf("KeyPath = %q", got)
	}
	if got := KeyPath("/kl", 3, 1234); got != "/kl/c-1234" {
		t.Errorf("KeyPath does not truncate: %q", got)
	}
	s := &Settings{ValSize: 8192, SizedNames: true}
	names := map[string]string{}
	for _, ts := range TaskSets() {
		names[ts.Class] = ts.Name(s)
	}
	if names["Get"] != "get_8.0_KiB" || names["SetAndGet"] != "set_and_get_8.0_KiB" || names["Watch"] != "watch" {
		t.Errorf("sized names: %v", names)
	}
	s.SizedNames = false
	if n := TaskSets()[0].Name(s); n != "set" {
		t.Errorf("unsized name %q", n)
	}
}

func TestResolvePrecedence(t *testing.T) {
	master := map[string]any{"zk_key_size": "12", "zk_val_size": "512", "zk_min_wait": "5", "zk_rate": "", "zk_outstanding": "4", "zk_bench_answer": "41"}
	l := Layers{
		Flags:  map[string]string{"key-size": "10"},
		Env:    map[string]string{"key-size": "11", "val-size": "100", "hosts": "e:1"},
		Master: master, Host: "zk://m:2/chroot",
		Bench: map[string]string{"answer": "42"}, BenchEnv: map[string]string{"ANSWER": "40", "OTHER": "x"},
	}
	s, err := Resolve(l)
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
	l.Env = nil
	s, err = Resolve(l)
	if err != nil || strings.Join(s.Servers, ",") != "m:2" || s.Chroot != "/chroot" || s.Root() != "/chroot/kl" {
		t.Fatalf("ensemble from host: %+v, %v", s, err)
	}
	if s.SizedNames != true || s.ValSize != 512 {
		t.Errorf("master val size not applied: %+v", s)
	}
	if _, err := s.Bench.Int("missing", 7); err != nil {
		t.Error(err)
	}
	if _, err := NewBench(map[string]string{"n": "x"}, nil, nil).Int("n", 0); err == nil || !strings.Contains(err.Error(), "--bench-n") {
		t.Errorf("bad bench int: %v", err)
	}
}

func TestResolveErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		l    Layers
		want string
	}{
		{Layers{Flags: map[string]string{"hosts": "a:1", "key-size": "2"}}, `--key-size "2": want an integer from 3 to 64`},
		{Layers{Env: map[string]string{"hosts": "a:1", "exception-behavior": "x"}}, `ZK_LOCUST_EXCEPTION_BEHAVIOR "x": want log-failure, try-suppress or propagate`},
		{Layers{Flags: map[string]string{"hosts": "a:1"}, Master: map[string]any{"zk_outstanding": "0"}}, `master option zk_outstanding "0": want an integer from 1 to 10000`},
		{Layers{Host: "http://x"}, `host "http://x"`},
		{Layers{}, "no ZooKeeper ensemble"},
		{Layers{Flags: map[string]string{"hosts": "a:1", "pseudo-root": "/zookeeper"}}, `--pseudo-root "/zookeeper"`},
	}
	for _, c := range cases {
		_, err := Resolve(c.l)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Resolve(%+v) = %v; want one line with %q", c.l, err, c.want)
		}
	}
	// Exception behaviour matching ignores case, - and _ (as zk-locust).
	s, err := Resolve(Layers{Flags: map[string]string{"hosts": "a:1", "exception-behavior": "TRY_SUPPRESS"}})
	if err != nil || s.Exceptions != TrySuppress {
		t.Errorf("TRY_SUPPRESS: %v %v", s, err)
	}
	// Check validates only what the worker itself was given.
	if err := Check(Layers{Env: map[string]string{"val-size": "0"}}); err == nil || !strings.Contains(err.Error(), "ZK_LOCUST_VAL_SIZE") {
		t.Errorf("Check: %v", err)
	}
	if err := Check(Layers{}); err != nil {
		t.Errorf("Check without hosts: %v", err)
	}
}

func TestEnvLayerAliases(t *testing.T) {
	env, bench := EnvLayer([]string{"KAZOO_LOCUST_HOSTS=k:1", "ZK_LOCUST_KEY_SIZE=9", "KAZOO_LOCUST_TIMEOUT_S=3", "ZK_LOCUST_BENCH_THE_ANSWER=42", "ZK_LOCUST_VAL_SIZE="})
	if env["hosts"] != "k:1" || env["key-size"] != "9" || env["session-timeout"] != "3" || bench["the_answer"] != "42" {
		t.Errorf("env layer %v, bench %v", env, bench)
	}
	if _, ok := env["val-size"]; ok {
		t.Errorf("an empty variable must not count as set")
	}
}

func TestDigestMD5RFC2831Example(t *testing.T) {
	// RFC 2831 §4's example, with its cnonce and digest-uri.
	ch := parseDigestChallenge(`realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8`)
	resp, rspauth, err := digestResponse(ch, "chris", "secret", "OA6MHXh6VqTrRk", "imap/elwood.innosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp, "response=d388dad90d4bbd760a152321f2143af7") {
		t.Errorf("response: %s", resp)
	}
	if rspauth != "ea40f60335c427b5527b84dbabcdfffd" {
		t.Errorf("rspauth %s", rspauth)
	}
	if _, _, err := parseSASLOptions(`{"mechanism":"GSSAPI"}`); err == nil {
		t.Error("GSSAPI accepted")
	}
}
