package zookeeper

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/setting"
)

// The open-ended bench settings' prefixes: --bench-NAME, ZK_LOCUST_BENCH_NAME and the
// master's zk_bench_name.
const (
	benchFlag   = "bench-"
	benchEnv    = "ZK_LOCUST_BENCH_"
	benchOption = "zk_bench_"
)

// benchSpec is the family of open-ended settings --bench-NAME VALUE (setting.Spec.Open).
// The master's options zk_bench_NAME set them too; Option stays empty because it is a
// prefix, not an option the master's locustfile declares.
func benchSpec() *setting.Spec {
	return &setting.Spec{Flag: benchFlag, Env: benchEnv, Open: true, Arg: "VALUE", Group: group,
		Help: "open-ended setting for workloads"}
}

// NormalizeBenchName turns THE_ANSWER, the-answer and the_answer into the_answer.
func NormalizeBenchName(n string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(n)), "-", "_")
}

// Bench gives workloads typed access to the open-ended settings: --bench-NAME VALUE,
// ZK_LOCUST_BENCH_NAME, or the master's custom option zk_bench_name, in that order.
// Unlike the fixed settings, an empty flag or variable counts as set (as zk-locust).
type Bench struct {
	flags  map[string]string // by normalized name
	env    map[string]string // by normalized name
	master map[string]any
}

// NewBench reads the bench settings of the layers: flags named bench-NAME, the
// ZK_LOCUST_BENCH_NAME variables of l.Environ (nil: the process's), and the master's
// zk_bench_name options. Names are normalized as NormalizeBenchName does.
func NewBench(l setting.Layers) Bench {
	b := Bench{flags: map[string]string{}, env: map[string]string{}, master: l.Master}
	for k, v := range l.Flags {
		if name, ok := strings.CutPrefix(k, benchFlag); ok && name != "" {
			b.flags[NormalizeBenchName(name)] = v
		}
	}
	environ := l.Environ
	if environ == nil {
		environ = os.Environ()
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, benchEnv); ok && name != "" {
			b.env[NormalizeBenchName(name)] = v
		}
	}
	return b
}

// benchNamed describes the bench setting n (normalized), so that its values name their
// source as other settings do: "--bench-the-answer", "ZK_LOCUST_BENCH_THE_ANSWER",
// "master option --zk-bench-the-answer".
func benchNamed(n string) *setting.Spec {
	return &setting.Spec{Flag: benchFlag + strings.ReplaceAll(n, "_", "-"), Env: benchEnv + strings.ToUpper(n),
		Option: benchOption + n, Group: group}
}

// Lookup returns the value of a bench setting, naming its source; ok is false when no
// source sets it.
func (b Bench) Lookup(name string) (v setting.Value, ok bool) {
	n := NormalizeBenchName(name)
	s := benchNamed(n)
	if x, ok := b.flags[n]; ok {
		return setting.Value{Spec: s, Text: x, Source: setting.FromFlag}, true
	}
	if x, ok := b.env[n]; ok {
		return setting.Value{Spec: s, Text: x, Source: setting.FromEnv}, true
	}
	if x, ok := setting.MasterText(b.master, s); ok {
		return setting.Value{Spec: s, Text: x, Source: setting.FromMaster}, true
	}
	return setting.Value{Spec: s, Source: setting.FromDefault}, false
}

// Names lists the bench settings given, sorted.
func (b Bench) Names() []string {
	seen := map[string]bool{}
	for k := range b.flags {
		seen[k] = true
	}
	for k := range b.env {
		seen[k] = true
	}
	for k := range b.master {
		if n, ok := strings.CutPrefix(k, benchOption); ok {
			if _, set := setting.MasterText(b.master, &setting.Spec{Option: k}); set {
				seen[n] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// String returns a bench setting, or def when it is not set.
func (b Bench) String(name, def string) string {
	if v, ok := b.Lookup(name); ok {
		return v.Text
	}
	return def
}

// Int returns a bench setting as an integer, def when unset; a malformed value is an
// error naming the setting.
func (b Bench) Int(name string, def int) (int, error) {
	return benchParse(b, name, def, "an integer", func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil
	})
}

// Float returns a bench setting as a number, def when unset.
func (b Bench) Float(name string, def float64) (float64, error) {
	return benchParse(b, name, def, "a number", func(s string) (float64, bool) {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	})
}

// Bool returns a bench setting as a boolean (1/0, true/false, yes/no), def when unset.
func (b Bench) Bool(name string, def bool) (bool, error) {
	return benchParse(b, name, def, "1 or 0 (true/false)", setting.ParseBool)
}

// Millis returns a bench setting given in milliseconds (zk-locust's *_MS convention) as
// a duration, def when unset.
func (b Bench) Millis(name string, def time.Duration) (time.Duration, error) {
	return benchParse(b, name, def, "milliseconds, 0 or more", func(s string) (time.Duration, bool) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 {
			return 0, false
		}
		return time.Duration(f * float64(time.Millisecond)), true
	})
}

// benchParse returns bench setting name as parse reads its text (trimmed), def when
// unset; a value parse rejects is an error naming the setting: "want <want>".
func benchParse[T any](b Bench, name string, def T, want string, parse func(string) (T, bool)) (T, error) {
	v, ok := b.Lookup(name)
	if !ok {
		return def, nil
	}
	x, ok := parse(strings.TrimSpace(v.Text))
	if !ok {
		return def, v.Errorf("want %s", want)
	}
	return x, nil
}
