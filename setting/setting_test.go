package setting

import (
	"strings"
	"testing"
)

func TestPrecedenceAndNames(t *testing.T) {
	s := &Spec{Flag: "key-size", Env: "ZK_LOCUST_KEY_SIZE", EnvAliases: []string{"KAZOO_LOCUST_KEY_SIZE"},
		Option: "zk_key_size", Default: "8", Expect: "an integer from 2 to 64"}
	env := map[string]string{}
	l := Layers{Flags: map[string]string{}, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Master: map[string]any{"zk_key_size": ""}}
	check := func(wantText, wantName string) {
		t.Helper()
		v := l.Get(s)
		if v.Text != wantText || v.Name() != wantName {
			t.Errorf("Get = %q from %s; want %q from %s", v.Text, v.Name(), wantText, wantName)
		}
	}
	check("8", "default --key-size") // the master's empty option does not count
	l.Master["zk_key_size"] = int64(10)
	check("10", "master option --zk-key-size")
	env["KAZOO_LOCUST_KEY_SIZE"] = "11"
	check("11", "ZK_LOCUST_KEY_SIZE")
	env["ZK_LOCUST_KEY_SIZE"] = "" // empty: not set
	check("11", "ZK_LOCUST_KEY_SIZE")
	env["ZK_LOCUST_KEY_SIZE"] = "12"
	check("12", "ZK_LOCUST_KEY_SIZE")
	l.Flags["key-size"] = "x"
	check("x", "--key-size")
	_, err := l.Get(s).Int(2, 64)
	if err == nil || err.Error() != `--key-size "x": want an integer from 2 to 64` {
		t.Errorf("Int error = %v", err)
	}
	s.Secret = true
	delete(l.Flags, "key-size")
	env = map[string]string{}
	check("8", "default --key-size") // secrets never come from the master
}

func TestParsers(t *testing.T) {
	v := func(text string) Value { return Value{&Spec{Flag: "x", Expect: "something"}, text, FromFlag} }
	if n, err := v(" 42 ").Int(1, 100); n != 42 || err != nil {
		t.Errorf("Int = %d, %v", n, err)
	}
	for _, bad := range []string{"0", "101", "1.5", ""} {
		if _, err := v(bad).Int(1, 100); err == nil {
			t.Errorf("Int(%q) accepted", bad)
		}
	}
	if p, err := v("65535").Port(); p != 65535 || err != nil {
		t.Errorf("Port = %d, %v", p, err)
	}
	if _, err := v("NaN").Float(0, 1); err == nil {
		t.Error("Float(NaN) accepted")
	}
	if d, err := v("1.5").Millis(); d.Microseconds() != 1500 || err != nil {
		t.Errorf("Millis = %v, %v", d, err)
	}
	if _, err := v("-1s").Duration(); err == nil || !strings.Contains(err.Error(), "want something") {
		t.Errorf("Duration(-1s) error = %v", err)
	}
	for in, want := range map[string]bool{"yes": true, "Off": false, "2": true, "0": false, "": false} {
		if b, err := v(in).Bool(); b != want || err != nil {
			t.Errorf("Bool(%q) = %v, %v", in, b, err)
		}
	}
	if _, err := v("maybe").Bool(); err == nil {
		t.Error("Bool(maybe) accepted")
	}
}
