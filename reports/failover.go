package reports

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/record"
	"github.com/zkload/zkload/stats"
)

// FaultRow is one row of a test's faults timeline (faults.csv).
type FaultRow struct {
	Time       time.Time
	Action     string
	Member     string
	RoleBefore string
	// Election is the polled time until a member led again; -1 when not given.
	Election time.Duration
	// FirstWrite is the time until the dispatcher's probe wrote again; -1 when not given.
	FirstWrite time.Duration
	Note       string
}

// takesOut reports whether the action took a member out of service.
func (f FaultRow) takesOut() bool {
	switch f.Action {
	case "disable", "pause", "restart", "partition":
		return f.Note == ""
	}
	return false
}

func readFaults(t *Test, path string) []FaultRow {
	return readRows(t, path, []string{"Time", "Action", "Member"}, false, func(tb *table, r []string) (FaultRow, bool) {
		ts, err := time.Parse("2006-01-02T15:04:05.000Z", tb.get(r, "Time"))
		if err != nil {
			return FaultRow{}, false
		}
		f := FaultRow{Time: ts, Action: tb.get(r, "Action"), Member: tb.get(r, "Member"), RoleBefore: tb.get(r, "Role Before"),
			Election: -1, FirstWrite: -1, Note: tb.get(r, "Note")}
		if ms, err := strconv.ParseFloat(tb.get(r, "Election (ms)"), 64); err == nil {
			f.Election = time.Duration(ms * float64(time.Millisecond))
		}
		if ms, err := strconv.ParseFloat(tb.get(r, "First Write (ms)"), 64); err == nil {
			f.FirstWrite = time.Duration(ms * float64(time.Millisecond))
		}
		return f, true
	})
}

// Failover is what followed one action that took a member out of service, measured
// from the windowed statistics (one slot a second: times are to the slot).
type Failover struct {
	Fault FaultRow
	// FirstSuccess is the time from the fault to the end of the first slot with a
	// successful request; -1: none before the test ended.
	FirstSuccess time.Duration
	// RateBefore is the successes per second over the 10 s before the fault; RateLow
	// the lowest slot's from the fault until Recovery (or the end); Dip is 1-low/before,
	// 0 when the rate did not fall.
	RateBefore, RateLow, Dip float64
	// Recovery is the time from the fault to the end of the first slot back at 90 % of
	// RateBefore; -1: never.
	Recovery time.Duration
	// P99 in ms over the 10 s before, from the fault to Recovery, and the 10 s after.
	P99Before, P99During, P99After float64
	// Failures during (fault to Recovery) by kind.
	ConnectionLoss, SessionExpired, Other int64
	// LongestGap is, per operation, the longest run of slots without a success from the
	// fault to Recovery: the fleet's (no user succeeded), to the slot.
	LongestGap map[stats.Key]time.Duration
	// UserGap is, per operation (request type), the longest time any one user went
	// without a success, from the users' own clocks (record.SuccessGapPrefix): gaps
	// that ended from the fault to failoverWindow after Recovery (or the end). Absent
	// for a workload that does not record them.
	UserGap map[string]time.Duration
	// SessionsLost counts the users' sessions that expired in the same span
	// (record.SessionLost).
	SessionsLost int64
}

// failoverWindow is how much before and after a fault is compared.
const failoverWindow = 10 * time.Second

// failovers measures every action of the timeline that took a member out.
func (a *Analysis) failovers() []Failover {
	var out []Failover
	for _, f := range a.Test.Faults {
		if !f.takesOut() || len(a.Slots) == 0 {
			continue
		}
		out = append(out, a.failover(f))
	}
	return out
}

func (a *Analysis) failover(f FaultRow) Failover {
	fo := Failover{Fault: f, FirstSuccess: -1, Recovery: -1, P99Before: math.NaN(), P99During: math.NaN(), P99After: math.NaN(),
		LongestGap: map[stats.Key]time.Duration{}, UserGap: map[string]time.Duration{}}
	userValues := func(sl Slot) {
		for k, s := range sl.PerKey {
			switch {
			case k.Method == record.SessionLost:
				fo.SessionsLost += s.Requests
			case strings.HasPrefix(k.Method, record.SuccessGapPrefix):
				op := strings.TrimPrefix(k.Method, record.SuccessGapPrefix)
				if g := time.Duration(s.MaxNanos); g > fo.UserGap[op] {
					fo.UserGap[op] = g
				}
			}
		}
	}

	successes := func(sl Slot) float64 {
		s := sl.PerKey[stats.TotalKey]
		if s == nil {
			return 0
		}
		return float64(s.Requests-s.Failures) / sl.Width.Seconds()
	}
	before := stats.NewSummary()
	var rateSum float64
	n := 0
	for _, sl := range a.Slots {
		if sl.End.After(f.Time) || sl.End.Before(f.Time.Add(-failoverWindow)) {
			continue
		}
		rateSum += successes(sl)
		n++
		if s := sl.PerKey[stats.TotalKey]; s != nil {
			before.Add(s)
		}
	}
	if n > 0 {
		fo.RateBefore = rateSum / float64(n)
	}
	fo.P99Before = p99(before)
	during, after := stats.NewSummary(), stats.NewSummary()
	fo.RateLow = math.Inf(1)
	gapStart := map[stats.Key]time.Time{}
	var recovered time.Time
	for _, sl := range a.Slots {
		// A slot that began before the fault holds requests from before it.
		if sl.End.Add(-sl.Width).Before(f.Time) {
			continue
		}
		s := sl.PerKey[stats.TotalKey]
		if !recovered.IsZero() {
			if sl.End.After(recovered.Add(failoverWindow)) {
				break
			}
			if s != nil {
				after.Add(s)
			}
			userValues(sl) // a user's gap ends with its own first success, maybe after the fleet's
			continue
		}
		userValues(sl)
		r := successes(sl)
		fo.RateLow = math.Min(fo.RateLow, r)
		if fo.FirstSuccess < 0 && r > 0 {
			fo.FirstSuccess = sl.End.Sub(f.Time)
		}
		if s != nil {
			during.Add(s)
			for text, c := range s.Errors {
				switch kind := failureKind(text); kind {
				case "connection loss":
					fo.ConnectionLoss += c
				case "session expired":
					fo.SessionExpired += c
				default:
					fo.Other += c
				}
			}
		}
		for _, k := range a.Keys {
			ks := sl.PerKey[k]
			if ks != nil && ks.Requests > ks.Failures {
				delete(gapStart, k)
				continue
			}
			start, open := gapStart[k]
			if !open {
				start = sl.End.Add(-sl.Width)
				gapStart[k] = start
			}
			if g := sl.End.Sub(start); g > fo.LongestGap[k] {
				fo.LongestGap[k] = g
			}
		}
		if fo.RateBefore > 0 && r >= 0.9*fo.RateBefore {
			recovered = sl.End
			fo.Recovery = sl.End.Sub(f.Time)
		}
	}
	if math.IsInf(fo.RateLow, 1) {
		fo.RateLow = 0
	}
	if fo.RateBefore > 0 {
		fo.Dip = max(0, 1-fo.RateLow/fo.RateBefore) // no dip: a rate that did not fall
	}
	fo.P99During, fo.P99After = p99(during), p99(after)
	return fo
}

func p99(s *stats.Summary) float64 {
	if s.Requests == 0 {
		return math.NaN()
	}
	return usMS(s.Percentile(99))
}

// failureKind sorts a ZooKeeper failure text: connection loss, session expired or
// other.
func failureKind(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "session") && strings.Contains(t, "expired"):
		return "session expired"
	case strings.Contains(t, "connection") || strings.Contains(t, "could not connect") || strings.Contains(t, "connectionloss"):
		return "connection loss"
	}
	return "other"
}

// failoverNotes says what followed each fault, one line each.
func (a *Analysis) failoverNotes() []string {
	var out []string
	for _, fo := range a.failovers() {
		f := fo.Fault
		line := fmt.Sprintf("%s of member %s (%s) at %s", f.Action, f.Member, f.RoleBefore, f.Time.Format("15:04:05.000"))
		if f.Election >= 0 {
			line += fmt.Sprintf(": a leader again after %s (polled)", fmtDur(f.Election))
		}
		if f.FirstWrite >= 0 {
			line += fmt.Sprintf("; a client wrote again after %s (probe)", fmtDur(f.FirstWrite))
		}
		line += fmt.Sprintf("; first success within %s; successes/s %.0f before, %.0f at the lowest (dip %.0f %%)",
			fmtDur(fo.FirstSuccess), fo.RateBefore, fo.RateLow, 100*fo.Dip)
		if fo.Recovery >= 0 {
			line += fmt.Sprintf(", back to 90 %% within %s", fmtDur(fo.Recovery))
		} else {
			line += ", not back to 90 % before the end"
		}
		line += fmt.Sprintf("; p99 %s ms before, %s during, %s after", fmtMS(fo.P99Before), fmtMS(fo.P99During), fmtMS(fo.P99After))
		line += fmt.Sprintf("; failures during: %d connection loss, %d session expired, %d other; sessions lost: %d",
			fo.ConnectionLoss, fo.SessionExpired, fo.Other, fo.SessionsLost)
		if g := fo.userGaps(); g != "" {
			line += "; longest any user went without a success: " + g
		}
		var gaps []string
		for k, g := range fo.LongestGap {
			gaps = append(gaps, fmt.Sprintf("%s %s %s", k.Name, k.Method, fmtDur(g)))
		}
		sort.Strings(gaps)
		if len(gaps) > 0 {
			line += "; longest no user succeeded: " + strings.Join(gaps, ", ")
		}
		out = append(out, line+".")
	}
	return out
}

// userGaps lists UserGap by operation ("get 1.2s, set 2.05s"); "" when none.
func (fo Failover) userGaps() string {
	var out []string
	for op, g := range fo.UserGap {
		out = append(out, op+" "+fmtDur(g))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// maxUserGap is the longest UserGap of any operation; -1 when none.
func (fo Failover) maxUserGap() time.Duration {
	m := time.Duration(-1)
	for _, g := range fo.UserGap {
		m = max(m, g)
	}
	return m
}

// fmtDur shows a duration to the millisecond, or "never" when negative.
func fmtDur(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Millisecond).String()
}

// failoverCSV is failover.csv: one row per fault of every test.
func failoverCSV(analyses []*Analysis) [][]string {
	rows := [][]string{{"Test", "Time", "Action", "Member", "Role Before", "Election (ms)", "First Write (ms)", "First Success (s)",
		"Successes/s Before", "Successes/s Lowest", "Dip (%)", "Recovery to 90% (s)", "p99 Before (ms)", "p99 During (ms)",
		"p99 After (ms)", "Connection Loss", "Session Expired", "Other Failures", "Sessions Lost",
		"Longest User Gap (s)", "Longest User Gap By Operation"}}
	sec := func(d time.Duration) string {
		if d < 0 {
			return ""
		}
		return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
	}
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	for _, a := range analyses {
		for _, fo := range a.failovers() {
			f := fo.Fault
			ms := func(d time.Duration) string {
				if d < 0 {
					return ""
				}
				return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64)
			}
			rows = append(rows, []string{a.Test.Label, f.Time.Format("2006-01-02T15:04:05.000Z"), f.Action, f.Member, f.RoleBefore,
				ms(f.Election), ms(f.FirstWrite),
				sec(fo.FirstSuccess), num(fo.RateBefore), num(fo.RateLow), num(100 * fo.Dip), sec(fo.Recovery),
				num(fo.P99Before), num(fo.P99During), num(fo.P99After),
				strconv.FormatInt(fo.ConnectionLoss, 10), strconv.FormatInt(fo.SessionExpired, 10), strconv.FormatInt(fo.Other, 10),
				strconv.FormatInt(fo.SessionsLost, 10), sec(fo.maxUserGap()), fo.userGaps()})
		}
	}
	return rows
}

// faultMarks are the times of the faults timeline's actions (skips excluded).
func (a *Analysis) faultMarks() []float64 {
	var out []float64
	for _, f := range a.Test.Faults {
		if f.Action != "skip" {
			out = append(out, unix(f.Time))
		}
	}
	return out
}

func faultsTitle(a *Analysis) string {
	if a.Test.Label == "" {
		return "Faults and failover"
	}
	return "Faults and failover: " + a.Test.Label
}
