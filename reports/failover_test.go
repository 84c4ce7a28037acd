package reports

import (
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/record"
	"github.com/zkload/zkload/stats"
)

// TestFailoverFromSlots: a leader kill at 10 s into a run of 1 s slots at 100
// successes/s, with 3 slots of nothing but connection losses after it and 95/s from
// then on: the dip is total, the first success and the recovery to 90 % come 4 s after
// the kill, the failures are counted by kind, and the set's longest gap is the 3 s.
func TestFailoverFromSlots(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	set := stats.Key{Method: "set", Name: "set"}
	slot := func(end int, ok, failed int, err string) Slot {
		k, tot := stats.NewSummary(), stats.NewSummary()
		for range ok {
			k.Hist.RecordValue(2000)
		}
		k.Requests, k.Failures = int64(ok+failed), int64(failed)
		if failed > 0 {
			k.Errors = map[string]int64{err: int64(failed)}
		}
		tot.Add(k)
		return Slot{End: t0.Add(time.Duration(end) * time.Second), Width: time.Second,
			PerKey: map[stats.Key]*stats.Summary{set: k, stats.TotalKey: tot}}
	}
	a := &Analysis{Test: &Test{Faults: []FaultRow{
		{Time: t0.Add(10 * time.Second), Action: "disable", Member: "2", RoleBefore: "leader", Election: 800 * time.Millisecond,
			FirstWrite: 950 * time.Millisecond},
		{Time: t0.Add(12 * time.Second), Action: "skip", Member: "1", Note: "below the quorum"},
	}}, Keys: []stats.Key{set}}
	for i := 1; i <= 10; i++ {
		a.Slots = append(a.Slots, slot(i, 100, 0, ""))
	}
	for i := 11; i <= 13; i++ {
		a.Slots = append(a.Slots, slot(i, 0, 50, "set set: 'zk: connection closed'"))
	}
	for i := 14; i <= 25; i++ {
		a.Slots = append(a.Slots, slot(i, 95, 1, "set set: 'zk: session has been expired by the server'"))
	}
	// The users' own values: a gap of 9 s before the fault (a user's think time, not
	// counted), 4.2 s and 5.5 s ending in the fault's slots, 2 lost sessions during and
	// one long after the recovery's 10 s (not counted).
	value := func(i int, method string, d ...time.Duration) {
		s := stats.NewSummary()
		for _, v := range d {
			s.Requests++
			s.MaxNanos = max(s.MaxNanos, int64(v))
		}
		a.Slots[i-1].PerKey[stats.Key{Method: method, Name: "set"}] = s
	}
	value(5, record.SuccessGapPrefix+"set", 9*time.Second)
	value(14, record.SuccessGapPrefix+"set", 4200*time.Millisecond, 300*time.Millisecond)
	value(16, record.SuccessGapPrefix+"set", 5500*time.Millisecond)
	value(12, record.SessionLost, time.Minute, time.Minute)
	value(25, record.SessionLost, time.Minute)
	fos := a.failovers()
	if len(fos) != 1 {
		t.Fatalf("%d failovers, want 1 (the skip is none)", len(fos))
	}
	fo := fos[0]
	if fo.RateBefore != 100 || fo.RateLow != 0 || fo.Dip != 1 {
		t.Errorf("rates before %v, lowest %v, dip %v; want 100, 0, 1", fo.RateBefore, fo.RateLow, fo.Dip)
	}
	if fo.FirstSuccess != 4*time.Second || fo.Recovery != 4*time.Second {
		t.Errorf("first success %v, recovery %v; want 4s and 4s", fo.FirstSuccess, fo.Recovery)
	}
	if fo.ConnectionLoss != 150 || fo.SessionExpired != 1 || fo.Other != 0 {
		t.Errorf("failures %d connection loss, %d session expired, %d other; want 150, 1, 0", fo.ConnectionLoss, fo.SessionExpired, fo.Other)
	}
	if g := fo.LongestGap[set]; g != 3*time.Second {
		t.Errorf("longest gap %v, want 3s", g)
	}
	if g := fo.UserGap["set"]; g != 5500*time.Millisecond || len(fo.UserGap) != 1 {
		t.Errorf("users' longest gaps %v, want set 5.5s", fo.UserGap)
	}
	if fo.SessionsLost != 2 {
		t.Errorf("sessions lost %d, want 2", fo.SessionsLost)
	}
	if fo.P99Before != 2 || fo.P99After != 2 {
		t.Errorf("p99 before %v, after %v; want 2 ms", fo.P99Before, fo.P99After)
	}
	notes := a.failoverNotes()
	if len(notes) != 1 || !strings.Contains(notes[0], "a leader again after 800ms (polled)") || !strings.Contains(notes[0], "back to 90 % within 4s") ||
		!strings.Contains(notes[0], "a client wrote again after 950ms (probe)") || !strings.Contains(notes[0], "sessions lost: 2") ||
		!strings.Contains(notes[0], "longest any user went without a success: set 5.5s") {
		t.Errorf("notes %q", notes)
	}
	rows := failoverCSV([]*Analysis{a})
	if len(rows) != 2 || rows[1][5] != "800.000" || rows[1][6] != "950.000" || rows[1][11] != "4.000" || rows[1][15] != "150" ||
		rows[1][18] != "2" || rows[1][19] != "5.500" || rows[1][20] != "set 5.5s" {
		t.Errorf("failover.csv rows %q", rows)
	}
	if m := a.faultMarks(); len(m) != 1 {
		t.Errorf("fault marks %v, want the disable only", m)
	}
}
