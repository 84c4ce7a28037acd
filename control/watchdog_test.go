package control_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/control"
	"github.com/zkload/zkload/stats"
)

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in  string
		sig string
		op  control.Op
		lim float64
		dur time.Duration
	}{
		{"errors>5% for 30s", "errors", control.Greater, 0.05, 30 * time.Second},
		{" p99 > 1s for 1m ", "p99", control.Greater, 1, time.Minute},
		{"quorum lost for 10s", "quorum", control.Less, 1, 10 * time.Second},
		{"outstanding>=1000", "outstanding", control.GreaterEqual, 1000, 0},
	} {
		r, err := control.ParseRule(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		c := r.Condition
		if c.Signal.Name != tc.sig || c.Op != tc.op || c.Limit != tc.lim || r.For != tc.dur {
			t.Errorf("%q: %s %s %v for %v", tc.in, c.Signal.Name, c.Op, c.Limit, r.For)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"errors>5% for ever", `watchdog rule "errors>5% for ever": "ever": want a duration such as 30s`},
		{"errors for 30s", `watchdog rule "errors for 30s": want CONDITION [for DURATION] such as "errors>5% for 30s"`},
		{"p99>1 for 1m", `watchdog rule "p99>1 for 1m": p99 is a latency: want a duration such as 10ms, not "1"`},
	} {
		if _, err := control.ParseRule(tc.in); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
	if rs, err := control.ParseRules("errors>5% for 30s, quorum lost for 10s\np99>1s for 1m"); err != nil || len(rs) != 3 {
		t.Errorf("rules: %v %v", rs, err)
	}
}

// window is a one-second window ending at second s with n operations, failed of which
// failed, and the given signals.
func window(s, n, failed int, signals map[string]float64) control.Window {
	sum := stats.NewSummary()
	for i := 0; i < n; i++ {
		_ = sum.Hist.RecordValue(1000)
	}
	sum.Requests, sum.Failures = int64(n), int64(failed)
	return control.Window{End: t0.Add(time.Duration(s) * time.Second), Width: time.Second, Summary: sum, Signals: signals}
}

// The watchdog fires after the given time, not before; a good window starts it over,
// and one that cannot tell does not.
func TestWatchdogFiresAfterItsTime(t *testing.T) {
	rules, err := control.ParseRules("errors>5% for 5s")
	if err != nil {
		t.Fatal(err)
	}
	wd := control.NewWatchdog(rules)
	// Errors at 10% from the window that ends at 11 s, except a good window ending at
	// 13 s and an empty one ending at 17 s.
	fired := 0
	for s := 1; s <= 30; s++ {
		failed := 0
		if s > 10 && s != 13 {
			failed = 10
		}
		n := 100
		if s == 17 {
			n, failed = 0, 0
		}
		if v := wd.Observe(window(s, n, failed, nil)); v != nil && fired == 0 {
			fired = s
			if v.ExitCode != control.ExitWatchdog || v.At != t0.Add(time.Duration(s)*time.Second) ||
				!strings.HasPrefix(v.Text, "stopped by the watchdog: errors 10% > 5% for 5s (since 00:00:13") {
				t.Errorf("verdict %+v", v)
			}
		}
	}
	// Bad again from 13 s (after the good window): 5 s at the end of the window ending
	// at 18 s. The empty window ending at 17 s did not start the run over.
	if fired != 18 {
		t.Errorf("fired at %d s, want 18 s", fired)
	}
}

func TestWatchdogQuorum(t *testing.T) {
	rules, _ := control.ParseRules("quorum lost for 3s")
	wd := control.NewWatchdog(rules)
	for s := 1; s <= 10; s++ {
		q := 1.0
		if s >= 5 {
			q = 0
		}
		v := wd.Observe(window(s, 10, 0, map[string]float64{"quorum": q}))
		if (v != nil) != (s >= 7) {
			t.Fatalf("at %d s: verdict %v", s, v)
		}
	}
}

// Guarding a controller: the verdict ends the test with the load as last decided.
func TestGuardStopsSeek(t *testing.T) {
	s, _ := control.NewSeek(control.SeekConfig{Constraints: mustConstraints(t, "p99<50ms")})
	rules, _ := control.ParseRules("p99>200ms for 3s")
	g := control.Guard(s, control.NewWatchdog(rules))
	// A target without a queue limit overloaded by the seeker's growth: latencies grow
	// past 200 ms within the step that fails, and the watchdog stops it first.
	r := runOpen(g, &target{Capacity: 1000, Service: 500 * time.Microsecond, Seed: 9}, time.Second, 200)
	last := r.Decisions[len(r.Decisions)-1]
	if !last.Done || last.Verdict == nil || last.Verdict.ExitCode != control.ExitWatchdog || last.Rate != 1600 {
		t.Fatalf("last decision %+v, want the watchdog's verdict at the 1600/s step", last)
	}
	t.Log(last.Reason)
	if d := g.Tick(last.At.Add(time.Second)); !d.Done || d.Verdict == nil {
		t.Errorf("after the verdict: %+v", d)
	}
}
