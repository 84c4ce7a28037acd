// Package setting is the one way zkload reads a setting: from its command-line flag,
// else its environment variable, else the Locust master's option, else its default;
// and when a value is bad, the error names the source it came from ("--master-port",
// "LOCUST_MASTER_NODE_PORT", "master option --zk-key-size") and what is expected.
// Commands, workloads and the locustfile generator all describe their settings as Specs.
package setting

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Spec describes one setting.
type Spec struct {
	// Flag is the long flag, without dashes ("master-port"); Short a one-letter alias
	// ("u"), or "".
	Flag, Short string
	// Env is the environment variable ("" for none); EnvAliases are older names read
	// when Env is not set (zk-locust's KAZOO_LOCUST_*).
	Env        string
	EnvAliases []string
	// Option is the name of the master's parsed option that may set it ("zk_key_size"),
	// or "" when the master cannot.
	Option string
	// Default is the value when no source sets it, as text.
	Default string
	// Help says what the setting does; Expect what a valid value is, for errors ("a
	// TCP port, 1-65535"); Arg names the value in help ("N", "FILE").
	Help, Expect, Arg string
	// Group is the help section the flag is listed in.
	Group string
	// Secret settings are never written to run.json, logs or the master's web UI, and
	// never taken from the master.
	Secret bool
	// Bool flags take no value on the command line ("--force").
	Bool bool
	// Open marks an open-ended family of flags: Flag is a prefix ending in "-"
	// ("bench-"), every --bench-NAME given lands in Layers.Flags under its own name
	// ("bench-name"), and Env is the matching prefix ("ZK_LOCUST_BENCH_").
	Open bool
}

// Source is where a value came from.
type Source int

// Sources, from the highest precedence.
const (
	FromFlag Source = iota
	FromEnv
	FromMaster
	FromDefault
)

// Layers are what each source gives.
type Layers struct {
	// Flags holds the flags given on the command line, keyed by Spec.Flag.
	Flags map[string]string
	// LookupEnv reads the environment (nil: the process's own).
	LookupEnv func(string) (string, bool)
	// Environ is the environment as os.Environ gives it, for open-ended settings
	// (ZK_LOCUST_BENCH_*); nil: the process's own.
	Environ []string
	// Master is the master's parsed options (nil outside a test run by a master).
	Master map[string]any
}

// Value is a setting's value and its source.
type Value struct {
	Spec   *Spec
	Text   string
	Source Source
}

// Get resolves a setting: flag, else environment (an empty variable does not count),
// else the master's option (an empty one does not count), else the default.
func (l Layers) Get(s *Spec) Value {
	if v, ok := l.Flags[s.Flag]; ok {
		return Value{s, v, FromFlag}
	}
	lookup := l.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	for _, env := range append([]string{s.Env}, s.EnvAliases...) {
		if env == "" {
			continue
		}
		if v, ok := lookup(env); ok && v != "" {
			return Value{s, v, FromEnv}
		}
	}
	if v, ok := MasterText(l.Master, s); ok {
		return Value{s, v, FromMaster}
	}
	return Value{s, s.Default, FromDefault}
}

// Given reports whether a source other than the default set the value.
func (v Value) Given() bool { return v.Source != FromDefault }

// Name names the value's source for messages: "--key-size", "ZK_LOCUST_KEY_SIZE",
// "master option --zk-key-size" or "default --key-size".
func (v Value) Name() string {
	switch v.Source {
	case FromFlag:
		return "--" + v.Spec.Flag
	case FromEnv:
		return v.Spec.Env
	case FromMaster:
		return "master option --" + strings.ReplaceAll(v.Spec.Option, "_", "-")
	}
	return "default --" + v.Spec.Flag
}

// Errorf returns a one-line error naming the source and the value: `--master-port
// "x": ` followed by the formatted text.
func (v Value) Errorf(format string, a ...any) error {
	return fmt.Errorf("%s %q: %s", v.Name(), v.Text, fmt.Sprintf(format, a...))
}

// Bad returns the error for a value that is not what the Spec expects.
func (v Value) Bad() error {
	want := v.Spec.Expect
	if want == "" {
		want = "a valid value"
	}
	return v.Errorf("want %s", want)
}

// Int parses a whole number in [lo, hi].
func (v Value) Int(lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v.Text))
	if err != nil || n < lo || n > hi {
		return 0, v.Bad()
	}
	return n, nil
}

// Float parses a finite number in [lo, hi].
func (v Value) Float(lo, hi float64) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v.Text), 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi {
		return 0, v.Bad()
	}
	return f, nil
}

// Bool parses the spellings Python users type (ParseBool).
func (v Value) Bool() (bool, error) {
	b, ok := ParseBool(v.Text)
	if !ok {
		return false, v.Bad()
	}
	return b, nil
}

// Duration parses a Go duration ("30s", "1m30s", "250ms") that is positive.
func (v Value) Duration() (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v.Text))
	if err != nil || d <= 0 {
		return 0, v.Bad()
	}
	return d, nil
}

// Millis parses milliseconds (a number, 0 or more, fractions allowed).
func (v Value) Millis() (time.Duration, error) {
	f, err := v.Float(0, 1e9)
	if err != nil {
		return 0, err
	}
	return time.Duration(f * float64(time.Millisecond)), nil
}

// Port parses a TCP port.
func (v Value) Port() (int, error) { return v.Int(1, 65535) }

// ParseBool accepts the spellings Python users type: 1/0, true/false, yes/no, on/off,
// y/n, t/f, and (as zk-locust) any integer, true when above 0. ok is false otherwise.
func ParseBool(s string) (b, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on", "y", "t":
		return true, true
	case "0", "false", "no", "off", "n", "f", "":
		return false, true
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return n > 0, true
	}
	return false, false
}

// MasterText returns the master's value of a setting's option as text; a missing,
// null or empty one (a locustfile's "not set" default) does not count, and secret
// settings are never taken from the master.
func MasterText(m map[string]any, s *Spec) (string, bool) {
	if s.Option == "" || s.Secret || m == nil {
		return "", false
	}
	var v string
	switch x := m[s.Option].(type) {
	case nil:
		return "", false
	case string:
		v = x
	case bool:
		v = strconv.FormatBool(x)
	case int64:
		v = strconv.FormatInt(x, 10)
	case uint64:
		v = strconv.FormatUint(x, 10)
	case int:
		v = strconv.Itoa(x)
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
