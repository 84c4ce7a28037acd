package fleet

import (
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/zkload/zkload/stats"
)

func summary(micros ...int64) *stats.Summary {
	s := stats.NewSummary()
	for _, us := range micros {
		s.Requests++
		s.SumNanos += us * 1000
		if s.MinNanos == 0 || us*1000 < s.MinNanos {
			s.MinNanos = us * 1000
		}
		s.MaxNanos = max(s.MaxNanos, us*1000)
		_ = s.Hist.RecordValue(us)
	}
	return s
}

// viaMsgpack sends data as a master relays it: msgpack out, msgpack in, as the
// generic map a decoder gives.
func viaMsgpack(t *testing.T, data map[string]any) any {
	t.Helper()
	b, err := msgpack.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := msgpack.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Two workers' windows of the same second, through msgpack, merge into one view whose
// percentiles are those of all the requests in one histogram (not an average of the
// workers'); the view is out as soon as both reported, and a late copy is dropped.
func TestHubMergesWorkersExactly(t *testing.T) {
	end := time.Date(2026, 12, 2, 3, 0, 10, 2e6, time.UTC)
	get := stats.Key{Method: "get", Name: "get"}
	a := Window{Worker: 0, Node: "a", End: end, Width: time.Second, Users: 3, Offered: 100,
		Entries: []Entry{{get, summary(100, 200, 300)}, {stats.TotalKey, summary(100, 200, 300)}},
		Members: []Member{{HostPort: "127.0.0.1:2181", State: "leader", Up: true, Metrics: map[string]float64{"outstanding_requests": 4}}}}
	b := Window{Worker: 1, Node: "b", End: end.Add(30 * time.Millisecond), Width: time.Second, Users: 1, Offered: 50, Lag: 5 * time.Millisecond,
		Entries: []Entry{{get, summary(10000)}, {stats.TotalKey, summary(10000)}}}
	var h Hub
	for i, w := range []Window{a, b} {
		data, err := w.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m := viaMsgpack(t, data).(map[string]any)
		m["workers"] = 2 // the relay's count
		got, err := DecodeWindow(m)
		if err != nil {
			t.Fatal(err)
		}
		views := h.Add(got)
		if i == 0 && len(views) != 0 {
			t.Fatalf("a view before the second worker reported: %+v", views)
		}
		if i == 1 && len(views) != 1 {
			t.Fatalf("%d views after both reported, want 1", len(views))
		}
		if i == 1 {
			v := views[0]
			all := summary(100, 200, 300, 10000)
			if g := v.Entries[get]; g.Requests != 4 || g.Percentile(99) != all.Percentile(99) || g.Percentile(50) != all.Percentile(50) {
				t.Errorf("merged get: %d requests, p50 %d p99 %d; want 4, %d, %d", g.Requests, g.Percentile(50), g.Percentile(99), all.Percentile(50), all.Percentile(99))
			}
			cw := v.Control()
			if v.Users != 4 || v.Offered != 150 || cw.Requests() != 4 || cw.Lag != 5*time.Millisecond || cw.Signals["outstanding"] != 4 || cw.Signals["quorum"] != 1 {
				t.Errorf("view users %d offered %v, control window %d requests lag %v signals %v", v.Users, v.Offered, cw.Requests(), cw.Lag, cw.Signals)
			}
			enc := viaMsgpack(t, v.Encode()).(map[string]any)
			if ops := enc["ops"].([]any); len(ops) != 2 {
				t.Errorf("encoded view ops %v, want get and Total", ops)
			}
		}
	}
	if v := h.Add(a); v != nil || h.Late != 1 {
		t.Errorf("a late window gave %v (late %d); want dropped", v, h.Late)
	}
}

// A slot whose workers do not all report is out Grace after its end, alone.
func TestHubEmitsAfterGrace(t *testing.T) {
	end := time.Date(2026, 12, 2, 3, 0, 10, 0, time.UTC)
	h := Hub{Grace: time.Second}
	w := Window{Node: "a", End: end, Width: time.Second, Workers: 2, Entries: []Entry{{stats.TotalKey, summary(5)}}}
	if v := h.Add(w); v != nil {
		t.Fatalf("view before the grace: %v", v)
	}
	if v := h.Due(end.Add(500 * time.Millisecond)); v != nil {
		t.Fatalf("view before the grace: %v", v)
	}
	if v := h.Due(end.Add(1100 * time.Millisecond)); len(v) != 1 || len(v[0].Workers) != 1 || v[0].Expected != 2 {
		t.Fatalf("after the grace: %+v; want one view of the one worker, 2 expected", v)
	}
}

// Malformed windows are errors, never panics.
func TestDecodeWindowRefusesGarbage(t *testing.T) {
	for _, data := range []any{nil, "x", map[string]any{}, map[string]any{"end": "x", "width": 1},
		map[string]any{"end": 1.7e9, "width": 1.0, "entries": []any{map[string]any{"hdr": []byte("garbage")}}},
		map[string]any{"end": 1.7e9, "width": 1.0, "entries": []any{"x"}}} {
		if _, err := DecodeWindow(data); err == nil {
			t.Errorf("DecodeWindow(%v): no error", data)
		}
	}
}

// Shares follow the users; without users they are even.
func TestShares(t *testing.T) {
	s := Shares(300, []WorkerView{{Node: "a", Users: 2}, {Node: "b", Users: 1}})
	if s["a"] != 200 || s["b"] != 100 {
		t.Errorf("shares %v, want a 200, b 100", s)
	}
	s = Shares(300, []WorkerView{{Node: "a"}, {Node: "b"}})
	if s["a"] != 150 || s["b"] != 150 {
		t.Errorf("shares %v, want 150 each", s)
	}
}
