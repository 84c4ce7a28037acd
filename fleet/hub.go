package fleet

import (
	"math"
	"sort"
	"time"

	"github.com/zkload/zkload/control"
	"github.com/zkload/zkload/stats"
)

// DefaultGrace is how long after a slot's end the hub waits for the windows of workers
// that have not reported it: a second's collection interval, plus the relay's way.
const DefaultGrace = 2 * time.Second

// Hub merges the workers' windows of the same second into fleet views: exactly (the
// histograms merge), once every worker the master counts has reported the second, or
// Grace after it ended with the ones that did. One goroutine uses a Hub.
type Hub struct {
	// Grace is the wait for late workers (DefaultGrace when 0).
	Grace time.Duration

	slots   map[int64]*slot
	done    int64 // the last slot emitted: later windows of it are late and dropped
	members []Member
	Late    int // windows dropped for arriving after their slot was emitted
}

type slot struct {
	end     int64 // unix seconds, rounded
	windows map[string]Window
	workers int
}

// WorkerView is one worker's part of a fleet view.
type WorkerView struct {
	Index    int
	Node     string
	Users    int
	Offered  float64
	Requests int64 // requests completed in the window (values excluded)
	Failures int64
}

// View is the fleet over one second: every reporting worker's window merged.
type View struct {
	End   time.Time
	Width time.Duration
	// Expected is how many workers the master counted; len(Workers) reported.
	Expected int
	Workers  []WorkerView
	Users    int
	Offered  float64
	Lag      time.Duration
	// Entries are the merged summaries by key, the Total and values included.
	Entries map[stats.Key]*stats.Summary
	// Members is the ensemble as the most recent poll of any worker saw it.
	Members []Member
}

// Add takes a worker's window and returns the views it completed (usually none or one).
func (h *Hub) Add(w Window) []View {
	if h.slots == nil {
		h.slots = map[int64]*slot{}
	}
	key := int64(math.Round(float64(w.End.UnixNano()) / 1e9))
	if key <= h.done {
		h.Late++
		return nil
	}
	if len(w.Members) > 0 {
		h.members = w.Members
	}
	s := h.slots[key]
	if s == nil {
		s = &slot{end: key, windows: map[string]Window{}}
		h.slots[key] = s
	}
	s.windows[w.Node] = w
	s.workers = max(s.workers, w.Workers)
	if s.workers > 0 && len(s.windows) >= s.workers {
		return h.emitThrough(key)
	}
	return nil
}

// Due returns the views of slots that ended Grace or more before now.
func (h *Hub) Due(now time.Time) []View {
	grace := h.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	limit := int64(math.Floor(float64(now.Add(-grace).UnixNano()) / 1e9))
	var due int64 = math.MinInt64
	for k := range h.slots {
		if k <= limit && k > due {
			due = k
		}
	}
	if due == math.MinInt64 {
		return nil
	}
	return h.emitThrough(due)
}

// emitThrough emits every slot up to key, in order.
func (h *Hub) emitThrough(key int64) []View {
	var keys []int64
	for k := range h.slots {
		if k <= key {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var out []View
	for _, k := range keys {
		out = append(out, h.view(h.slots[k]))
		delete(h.slots, k)
		h.done = max(h.done, k)
	}
	return out
}

func (h *Hub) view(s *slot) View {
	v := View{Expected: s.workers, Entries: map[stats.Key]*stats.Summary{}, Members: h.members}
	nodes := make([]string, 0, len(s.windows))
	for n := range s.windows {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		w := s.windows[n]
		if w.End.After(v.End) {
			v.End = w.End
		}
		v.Width = max(v.Width, w.Width)
		v.Users += w.Users
		v.Offered += w.Offered
		v.Lag = max(v.Lag, w.Lag)
		wv := WorkerView{Index: w.Worker, Node: w.Node, Users: w.Users, Offered: w.Offered}
		for _, e := range w.Entries {
			sum := v.Entries[e.Key]
			if sum == nil {
				sum = stats.NewSummary()
				v.Entries[e.Key] = sum
			}
			sum.Add(e.Summary)
			if e.Key.IsTotal() {
				wv.Requests, wv.Failures = e.Summary.Requests, e.Summary.Failures
			}
		}
		v.Workers = append(v.Workers, wv)
	}
	return v
}

// Control is the view as the load controller reads a window.
func (v View) Control() control.Window {
	w := control.Window{End: v.End, Width: v.Width, Offered: v.Offered, Users: v.Users, Lag: v.Lag, Signals: Signals(v.Members)}
	if t := v.Entries[stats.TotalKey]; t != nil && t.Requests > 0 {
		w.Summary = t
	}
	return w
}

// Signals are the controller's ensemble signals from the members' metrics:
// outstanding (queued requests, summed), quorum (1 while a leader serves with a
// majority of the members up, else 0), latency_ms (the highest avg_latency),
// connections (summed) and members_up; nil without members.
func Signals(members []Member) map[string]float64 {
	if len(members) == 0 {
		return nil
	}
	out := map[string]float64{}
	up, leader := 0, false
	for _, m := range members {
		if !m.Up {
			continue
		}
		up++
		if m.State == "leader" || m.State == "standalone" {
			leader = true
		}
		out["outstanding"] += m.Metrics["outstanding_requests"]
		out["latency_ms"] = max(out["latency_ms"], m.Metrics["avg_latency"])
		out["connections"] += m.Metrics["num_alive_connections"]
	}
	out["members_up"] = float64(up)
	out["quorum"] = 0
	if leader && up > len(members)/2 {
		out["quorum"] = 1
	}
	return out
}

// Shares splits a fleet-wide rate over the workers of a view in proportion to their
// users (evenly when none has any): what each worker's plan offers. Keys are node ids.
func Shares(rate float64, workers []WorkerView) map[string]float64 {
	out := map[string]float64{}
	if len(workers) == 0 {
		return out
	}
	users := 0
	for _, w := range workers {
		users += w.Users
	}
	for _, w := range workers {
		if users == 0 {
			out[w.Node] = rate / float64(len(workers))
			continue
		}
		out[w.Node] = rate * float64(w.Users) / float64(users)
	}
	return out
}

// Encode is the view for the master's page and its JSON: per operation the exact
// merged percentiles in microseconds, rates per second, the workers and the members.
func (v View) Encode() map[string]any {
	secs := v.Width.Seconds()
	if secs <= 0 {
		secs = 1
	}
	var ops []any
	keys := make([]Entry, 0, len(v.Entries))
	for k, s := range v.Entries {
		keys = append(keys, Entry{Key: k, Summary: s})
	}
	sortEntries(keys)
	for _, e := range keys {
		s := e.Summary
		op := map[string]any{"method": e.Key.Method, "name": e.Key.Name, "requests": s.Requests, "failures": s.Failures,
			"rps": float64(s.Requests) / secs, "fps": float64(s.Failures) / secs, "value": e.Key.IsValue()}
		if s.Requests > 0 {
			op["p50_us"], op["p99_us"], op["p999_us"] = s.Percentile(50), s.Percentile(99), s.Percentile(99.9)
			op["max_us"] = s.MaxNanos / 1000
		}
		ops = append(ops, op)
	}
	var workers []any
	for _, w := range v.Workers {
		workers = append(workers, map[string]any{"index": w.Index, "node": w.Node, "users": w.Users, "offered": w.Offered,
			"rps": float64(w.Requests) / secs, "fps": float64(w.Failures) / secs})
	}
	var members []any
	for _, m := range v.Members {
		ms := map[string]any{}
		for k, x := range m.Metrics {
			ms[k] = x
		}
		members = append(members, map[string]any{"host_port": m.HostPort, "state": m.State, "up": m.Up, "metrics": ms})
	}
	return map[string]any{"end": unixSeconds(v.End), "width": v.Width.Seconds(), "expected": v.Expected,
		"users": v.Users, "offered": v.Offered, "lag_ms": float64(v.Lag) / 1e6,
		"ops": ops, "workers": workers, "members": members}
}
