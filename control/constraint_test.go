package control_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/control"
	"github.com/zkload/zkload/stats"
)

func TestParseConstraint(t *testing.T) {
	for _, tc := range []struct {
		in    string
		name  string
		op    control.Op
		limit float64
	}{
		{"p99<10ms", "p99", control.Less, 0.010},
		{" p99.9 <= 50ms ", "p99.9", control.LessEqual, 0.050},
		{"p50<500us", "p50", control.Less, 0.0005},
		{"errors<1%", "errors", control.Less, 0.01},
		{"errors<=0.005", "errors", control.LessEqual, 0.005},
		{"outstanding<100", "outstanding", control.Less, 100},
		{"quorum==0", "quorum", control.Equal, 0},
		{"zk_avg_latency>=2.5", "zk_avg_latency", control.GreaterEqual, 2.5},
		{"mean>1s", "mean", control.Greater, 1},
		{"rate!=0", "rate", control.NotEqual, 0},
	} {
		c, err := control.ParseConstraint(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if c.Signal.Name != tc.name || c.Op != tc.op || c.Limit != tc.limit {
			t.Errorf("%q: got %s %s %v, want %s %s %v", tc.in, c.Signal.Name, c.Op, c.Limit, tc.name, tc.op, tc.limit)
		}
	}
}

// A bad constraint gives one line naming the input and saying what is expected.
func TestParseConstraintErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"p99", `constraint "p99": want SIGNAL OP VALUE such as p99<10ms`},
		{"p99<<10ms", `constraint "p99<<10ms": want SIGNAL OP VALUE`},
		{"<10ms", `constraint "<10ms": want SIGNAL OP VALUE`},
		{"p99<", `constraint "p99<": want SIGNAL OP VALUE`},
		{"p99<10", `constraint "p99<10": p99 is a latency: want a duration such as 10ms, not "10"`},
		{"p150<1s", `constraint "p150<1s": "p150": want a percentile above p0 and at most p100`},
		{"errors<5", `constraint "errors<5": errors is a fraction of the operations: want a percentage such as 1% or a fraction such as 0.01, not "5"`},
		{"outstanding<lots", `constraint "outstanding<lots": outstanding: want a number, not "lots"`},
		{"9x<1", `constraint "9x<1": "9x": want a percentile such as p99`},
	} {
		_, err := control.ParseConstraint(tc.in)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line starting %q", tc.in, err, tc.want)
		}
	}
	if _, err := control.ParseConstraints("p99<10ms, errors<1%, p99.9<50"); err == nil || !strings.Contains(err.Error(), `"p99.9<50"`) {
		t.Errorf("a list names its bad constraint: %v", err)
	}
	if cs, err := control.ParseConstraints(" p99<10ms , errors<1% ,"); err != nil || len(cs) != 2 {
		t.Errorf("list: %v %v", cs, err)
	}
}

func TestConstraintCheck(t *testing.T) {
	s := stats.NewSummary()
	for i := 1; i <= 100; i++ {
		_ = s.Hist.RecordValue(int64(i) * 1000) // 1..100 ms
		s.Requests++
	}
	s.Failures = 2
	w := control.Window{Width: time.Second, Summary: s, Signals: map[string]float64{"outstanding": 150}}
	for _, tc := range []struct {
		in        string
		ok, known bool
		explain   string
	}{
		{"p99<100ms", true, true, "p99 99ms < 100ms"},
		{"p50<10ms", false, true, "p50 50ms >= 10ms"},
		{"errors<1%", false, true, "errors 2% >= 1%"},
		{"errors<5%", true, true, "errors 2% < 5%"},
		{"outstanding<100", false, true, "outstanding 150 >= 100"},
		{"quorum==1", false, false, ""},
		{"rate>50", true, true, "rate 100 > 50"},
	} {
		c, err := control.ParseConstraint(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		ok, known, v := c.Check(w)
		if ok != tc.ok || known != tc.known {
			t.Errorf("%s: ok %v known %v, want %v %v", tc.in, ok, known, tc.ok, tc.known)
		}
		if known && c.Explain(v) != tc.explain {
			t.Errorf("%s: explained %q, want %q", tc.in, c.Explain(v), tc.explain)
		}
	}
	if _, known, _ := mustConstraints(t, "p99<1s")[0].Check(control.Window{Width: time.Second}); known {
		t.Error("an empty window tells no percentile")
	}
}
