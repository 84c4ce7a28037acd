package main

import (
	"testing"
	"time"

	"github.com/zkload/zkload/faults"
)

// TestFaultMessage: a fault action as the zkload page gets it has the timeline's
// columns, durations in milliseconds, and null where the timeline leaves a cell empty.
func TestFaultMessage(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 250_000_000, time.UTC)
	m := faultMessage(faults.Action{Time: at, Action: "disable", Member: 2, Addr: "127.0.0.1:2183", Before: faults.Leader,
		LeaderBefore: 2, LeaderAfter: -1, Took: 1500 * time.Microsecond, Election: -1, FirstWrite: 2 * time.Second})
	want := map[string]any{"time": 1767323045.25, "action": "disable", "member": 2, "address": "127.0.0.1:2183",
		"role_before": "leader", "leader_before": 2, "leader_after": nil, "took_ms": 1.5, "election_ms": nil,
		"first_write_ms": 2000.0, "note": ""}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s: %v (%T), want %v (%T)", k, m[k], m[k], v, v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("%d keys, want %d: %v", len(m), len(want), m)
	}
}
