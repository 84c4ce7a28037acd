package reports

import (
	"math"
	"sort"
	"time"

	"github.com/zkload/zkload/stats"
)

// SummaryRow is one line of the summary table: one task set (Name) and operation
// (Method) of a test, or its Total. Times in ms; Exact says they come from the merged
// HDR distributions (µs precision) rather than Locust's ms buckets.
type SummaryRow struct {
	Test               string
	Key                stats.Key
	Requests, Failures int64
	RPS                float64
	P50, P90, P99      float64
	P999, Max          float64
	Exact              bool
}

// Slot is one time slot of a test: every worker's windows that ended in it, merged.
type Slot struct {
	End    time.Time
	Width  time.Duration
	PerKey map[stats.Key]*stats.Summary
	// Users is each worker's running users (last value in the slot).
	Users map[string]int
	// WorkerP99 is each worker's p99 (µs) per key in the slot: its window's, as its
	// extended-statistics CSV has it (the windows merged, if jitter put two in the slot).
	WorkerP99 map[string]map[stats.Key]int64
}

// Analysis is what the report shows of one test.
type Analysis struct {
	Test    *Test
	Keys    []stats.Key // the task set/operation entries, Total and values excluded, sorted
	Summary []SummaryRow
	// Values are the value series (stats.Key.IsValue: an open loop's schedule lag), one
	// row each, sorted: they are not requests, and no request count or rate has them.
	Values  []SummaryRow
	Merged  map[stats.Key]*stats.Summary // whole-run distributions, Total included
	Slots   []Slot
	Start   time.Time
	End     time.Time
	Clients []string
	Members []*Member
	// LeaderMoves are the times the leader changed (or was lost), from the metrics.
	LeaderMoves []time.Time
}

func analyze(t *Test) *Analysis {
	a := &Analysis{Test: t}
	if len(t.Distrib) > 0 {
		a.Merged = stats.Merge(t.Distrib)
		a.Slots, a.Start, a.End = slots(t.Distrib)
		clients := map[string]bool{}
		for _, d := range t.Distrib {
			clients[d.ClientID] = true
		}
		for c := range clients {
			a.Clients = append(a.Clients, c)
		}
		sort.Strings(a.Clients)
		for k := range a.Merged {
			if !k.IsTotal() && !k.IsValue() {
				a.Keys = append(a.Keys, k)
			}
		}
	} else {
		for _, s := range t.Stats {
			if s.Name != "Aggregated" {
				a.Keys = append(a.Keys, stats.Key{Method: s.Method, Name: s.Name})
			}
		}
		if len(t.History) > 0 {
			a.Start, a.End = t.History[0].Time, t.History[len(t.History)-1].Time
		}
	}
	sort.Slice(a.Keys, func(i, j int) bool {
		if a.Keys[i].Name != a.Keys[j].Name {
			return a.Keys[i].Name < a.Keys[j].Name
		}
		return a.Keys[i].Method < a.Keys[j].Method
	})
	a.Summary = a.summary()
	a.Values = a.values()
	a.Members, a.LeaderMoves = members(t.Metrics)
	if a.Start.IsZero() && len(t.Metrics) > 0 {
		a.Start, a.End = t.Metrics[0].Time, t.Metrics[len(t.Metrics)-1].Time
	}
	return a
}

// slots groups records by window end into slots as long as the longest window, from
// the earliest window start, so that each worker's window lands in its own slot.
func slots(ds []stats.Distribution) ([]Slot, time.Time, time.Time) {
	start, end := ds[0].Start, ds[0].End
	var width time.Duration
	for _, d := range ds {
		if d.Start.Before(start) {
			start = d.Start
		}
		if d.End.After(end) {
			end = d.End
		}
		if w := d.End.Sub(d.Start); w > width {
			width = w
		}
	}
	// A last, partial window can be short; the collection interval is the common one.
	width = commonWidth(ds, width)
	if width < time.Millisecond {
		width = time.Millisecond
	}
	n := int(end.Sub(start)/width) + 1
	out := make([]Slot, n)
	for i := range out {
		out[i] = Slot{End: start.Add(time.Duration(i+1) * width), Width: width,
			PerKey: map[stats.Key]*stats.Summary{}, Users: map[string]int{}, WorkerP99: map[string]map[stats.Key]int64{}}
	}
	type wk struct {
		slot   int
		worker string
		key    stats.Key
	}
	perWorker := map[wk][]*stats.Summary{}
	for i := range ds {
		d := &ds[i]
		idx := int(d.End.Sub(start) / width)
		if idx >= n {
			idx = n - 1
		}
		s := out[idx].PerKey[d.Key]
		if s == nil {
			s = stats.NewSummary()
			out[idx].PerKey[d.Key] = s
		}
		s.Add(&d.Summary)
		perWorker[wk{idx, d.ClientID, d.Key}] = append(perWorker[wk{idx, d.ClientID, d.Key}], &d.Summary)
		if d.Key.IsTotal() {
			out[idx].Users[d.ClientID] = d.UserCount
		}
	}
	for k, sums := range perWorker {
		m := out[k.slot].WorkerP99[k.worker]
		if m == nil {
			m = map[stats.Key]int64{}
			out[k.slot].WorkerP99[k.worker] = m
		}
		one := sums[0]
		if len(sums) > 1 {
			one = stats.NewSummary()
			for _, x := range sums {
				one.Add(x)
			}
		}
		if one.Requests > 0 {
			m[k.key] = one.Percentile(99)
		}
	}
	// Trim the empty slots at both ends (the first slot ends before any window does).
	for len(out) > 0 && len(out[0].PerKey) == 0 {
		out = out[1:]
	}
	for len(out) > 0 && len(out[len(out)-1].PerKey) == 0 {
		out = out[:len(out)-1]
	}
	return out, start, end
}

// commonWidth returns the most frequent window length (to the ms), at least as long as
// any window but the longest outliers; max when in doubt.
func commonWidth(ds []stats.Distribution, max time.Duration) time.Duration {
	count := map[time.Duration]int{}
	for _, d := range ds {
		count[d.End.Sub(d.Start).Round(10*time.Millisecond)]++
	}
	best, bestN := max, 0
	for w, n := range count {
		if n > bestN || (n == bestN && w > best) {
			best, bestN = w, n
		}
	}
	// Windows a little longer than the interval (ticker jitter) must not share a slot.
	for _, d := range ds {
		if w := d.End.Sub(d.Start); w > best && w < best*3/2 {
			best = w
		}
	}
	return best
}

func (a *Analysis) summary() []SummaryRow {
	var out []SummaryRow
	if a.Merged != nil {
		secs := a.End.Sub(a.Start).Seconds()
		for _, k := range append(append([]stats.Key(nil), a.Keys...), stats.TotalKey) {
			s := a.Merged[k]
			if s == nil {
				continue
			}
			r := SummaryRow{Test: a.Test.Label, Key: k, Requests: s.Requests, Failures: s.Failures, Exact: true,
				P50: usMS(s.Percentile(50)), P90: usMS(s.Percentile(90)), P99: usMS(s.Percentile(99)),
				P999: usMS(s.Percentile(99.9)), Max: float64(s.MaxNanos) / 1e6}
			if secs > 0 {
				r.RPS = float64(s.Requests) / secs
			}
			out = append(out, r)
		}
		return out
	}
	for _, s := range a.Test.Stats {
		k := stats.Key{Method: s.Method, Name: s.Name}
		if s.Name == "Aggregated" {
			k = stats.TotalKey
		}
		out = append(out, SummaryRow{Test: a.Test.Label, Key: k, Requests: s.Requests, Failures: s.Failures,
			RPS: s.RPS, P50: s.P50, P90: s.P90, P99: s.P99, P999: s.P999, Max: s.Max})
	}
	return out
}

// values are the value series' rows, as the summary's: Requests counts the values.
func (a *Analysis) values() []SummaryRow {
	var keys []stats.Key
	for k := range a.Merged {
		if k.IsValue() {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Name != keys[j].Name {
			return keys[i].Name < keys[j].Name
		}
		return keys[i].Method < keys[j].Method
	})
	secs := a.End.Sub(a.Start).Seconds()
	var out []SummaryRow
	for _, k := range keys {
		s := a.Merged[k]
		r := SummaryRow{Test: a.Test.Label, Key: k, Requests: s.Requests, Exact: true,
			P50: usMS(s.Percentile(50)), P90: usMS(s.Percentile(90)), P99: usMS(s.Percentile(99)),
			P999: usMS(s.Percentile(99.9)), Max: float64(s.MaxNanos) / 1e6}
		if secs > 0 {
			r.RPS = float64(s.Requests) / secs
		}
		out = append(out, r)
	}
	return out
}

// requests returns the merged requests of a task set (every operation of the name).
func (a *Analysis) requests(name string) int64 {
	var n int64
	for _, k := range a.Keys {
		if k.Name == name && a.Merged[k] != nil {
			n += a.Merged[k].Requests
		}
	}
	return n
}

func usMS(us int64) float64 { return float64(us) / 1000 }

// Member is one ensemble member's metrics over time.
type Member struct {
	HostPort string
	// Series holds each numeric metric's values over time.
	Series map[string][]Point
	States []StatePoint
	Errors []StatePoint // State holds the error text
}

// Point is one value at one time.
type Point struct {
	T time.Time
	V float64
}

// StatePoint is a member's server_state (or error) at one poll.
type StatePoint struct {
	T     time.Time
	State string
}

func members(rows []MetricRow) ([]*Member, []time.Time) {
	byHost := map[string]*Member{}
	var order []string
	type poll struct {
		leaders map[string]bool
	}
	polls := map[time.Time]*poll{}
	var times []time.Time
	for _, r := range rows {
		m := byHost[r.HostPort]
		if m == nil {
			m = &Member{HostPort: r.HostPort, Series: map[string][]Point{}}
			byHost[r.HostPort] = m
			order = append(order, r.HostPort)
		}
		p := polls[r.Time]
		if p == nil {
			p = &poll{leaders: map[string]bool{}}
			polls[r.Time] = p
			times = append(times, r.Time)
		}
		switch r.Metric {
		case "source":
			m.States = append(m.States, StatePoint{r.Time, r.State})
			if r.State == "leader" {
				p.leaders[r.HostPort] = true
			}
		case "error":
			m.Errors = append(m.Errors, StatePoint{r.Time, r.Value})
			if len(m.States) == 0 || m.States[len(m.States)-1].T != r.Time {
				m.States = append(m.States, StatePoint{r.Time, "error"})
			}
		default:
			if v := fnum(r.Value); !math.IsNaN(v) {
				m.Series[r.Metric] = append(m.Series[r.Metric], Point{r.Time, v})
			}
		}
	}
	var out []*Member
	for _, h := range order {
		out = append(out, byHost[h])
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var moves []time.Time
	prev := ""
	for _, t := range times {
		cur := ""
		for h := range polls[t].leaders {
			cur = h
		}
		if prev != "" && cur != prev {
			moves = append(moves, t)
		}
		if cur != "" || prev != "" {
			prev = cur
		}
	}
	return out, moves
}
