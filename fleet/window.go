// Package fleet is what a fleet of workers behind one Locust master tells each other
// through it: every worker's statistics window (Window, custom message MsgWindow),
// merged exactly by the one worker that hosts the fleet's hub (Hub: the worker the
// master numbered 0) into fleet-wide views (View) for the load controller and the live
// page, and the controller's rate shares back to the workers (MsgRate).
//
// The master only relays: the generated locustfile forwards windows to the hub, the
// hub's decisions to its runner and the workers, and keeps the hub's views for its web
// page (doc/load-control.md, doc/live.md). Messages are plain maps, as msgpack carries
// them; histograms travel in HdrHistogram's V2 compressed encoding, bytes the relay
// passes on untouched. It needs no transport: the command sends and receives.
package fleet

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkload/zkload/stats"
)

// The custom message types of the fleet.
const (
	// MsgWindow: a worker's window, to the master, which forwards it to the hub.
	MsgWindow = "zkload_window"
	// MsgHub: the worker numbered 0 says it hosts the hub (data: nil).
	MsgHub = "zkload_hub"
	// MsgDecision: the hub's controller decided (Decision), to the master.
	MsgDecision = "zkload_decision"
	// MsgRate: the rate shares, from the master to every worker (Shares).
	MsgRate = "zkload_rate"
	// MsgView: the hub's fleet view of a window (View), to the master, for its page.
	MsgView = "zkload_view"
	// MsgFleet: the master's count of workers when a test starts ({"workers": N}),
	// before its first spawn: a rate the master's options give is the fleet's, and
	// each worker offers its share.
	MsgFleet = "zkload_fleet"
	// MsgFault: a fault action of the worker numbered 0's dispatcher (a faults timeline
	// row), to the master, for its page.
	MsgFault = "zkload_fault"
)

// Entry is one (method, name)'s statistics in a window, values included.
type Entry struct {
	Key     stats.Key
	Summary *stats.Summary
}

// Member is one ensemble member as a worker's poll last saw it.
type Member struct {
	HostPort string
	State    string // leader, follower, standalone; "" when down or unknown
	Up       bool
	// Metrics are the member's numeric metrics by name (outstanding_requests,
	// avg_latency, num_alive_connections, znode_count, watch_count, ...).
	Metrics map[string]float64
}

// Window is one worker's statistics window.
type Window struct {
	Worker  int    // the index the master gave the worker
	Node    string // its node id
	End     time.Time
	Width   time.Duration
	Users   int
	Offered float64       // the open loop's planned rate over the window, ops/s; 0: closed loop
	Lag     time.Duration // the open loop's longest schedule lag in the window
	Entries []Entry
	Members []Member // the ensemble as this worker polls it; nil: it does not
	// Workers is how many workers the master had when it relayed the window (0:
	// unknown): the hub waits for that many in a slot.
	Workers int
}

// Encode returns the window as a message's data.
func (w *Window) Encode() (map[string]any, error) {
	entries := make([]any, 0, len(w.Entries))
	for _, e := range w.Entries {
		hist, err := e.Summary.Hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return nil, fmt.Errorf("fleet: encoding %s %s: %w", e.Key.Method, e.Key.Name, err)
		}
		m := map[string]any{"method": e.Key.Method, "name": e.Key.Name, "requests": e.Summary.Requests,
			"failures": e.Summary.Failures, "sum_ns": e.Summary.SumNanos, "min_ns": e.Summary.MinNanos,
			"max_ns": e.Summary.MaxNanos, "bytes": e.Summary.ContentLength, "hdr": hist}
		if len(e.Summary.Errors) > 0 {
			errs := map[string]any{}
			for k, v := range e.Summary.Errors {
				errs[k] = v
			}
			m["errors"] = errs
		}
		entries = append(entries, m)
	}
	var members []any
	for _, m := range w.Members {
		ms := map[string]any{}
		for k, v := range m.Metrics {
			ms[k] = v
		}
		members = append(members, map[string]any{"host_port": m.HostPort, "state": m.State, "up": m.Up, "metrics": ms})
	}
	return map[string]any{"worker": w.Worker, "node": w.Node, "end": unixSeconds(w.End), "width": w.Width.Seconds(),
		"users": w.Users, "offered": w.Offered, "lag": w.Lag.Seconds(), "entries": entries, "members": members}, nil
}

// DecodeWindow reads a window from a message's data; a malformed one is an error
// naming what is wrong (never a panic: the data crossed a network and a relay).
func DecodeWindow(data any) (Window, error) {
	m, ok := data.(map[string]any)
	if !ok {
		return Window{}, fmt.Errorf("fleet: window: want a map, got %T", data)
	}
	var w Window
	var err error
	num := func(key string) float64 {
		f, e := number(m[key])
		if e != nil && err == nil {
			err = fmt.Errorf("fleet: window: %s: %w", key, e)
		}
		return f
	}
	w.Worker, w.Users, w.Workers = int(num("worker")), int(num("users")), 0
	if _, ok := m["workers"]; ok {
		w.Workers = int(num("workers"))
	}
	w.Node, _ = m["node"].(string)
	w.End = fromUnix(num("end"))
	w.Width = time.Duration(num("width") * float64(time.Second))
	w.Offered = num("offered")
	w.Lag = time.Duration(num("lag") * float64(time.Second))
	if err != nil {
		return Window{}, err
	}
	if w.Width <= 0 || w.End.IsZero() {
		return Window{}, errors.New("fleet: window: no end or width")
	}
	entries, _ := m["entries"].([]any)
	for i, x := range entries {
		e, err := decodeEntry(x)
		if err != nil {
			return Window{}, fmt.Errorf("fleet: window: entry %d: %w", i, err)
		}
		w.Entries = append(w.Entries, e)
	}
	members, _ := m["members"].([]any)
	for _, x := range members {
		mm, ok := x.(map[string]any)
		if !ok {
			continue
		}
		mem := Member{Metrics: map[string]float64{}}
		mem.HostPort, _ = mm["host_port"].(string)
		mem.State, _ = mm["state"].(string)
		mem.Up, _ = mm["up"].(bool)
		metrics, _ := mm["metrics"].(map[string]any)
		for k, v := range metrics {
			if f, err := number(v); err == nil {
				mem.Metrics[k] = f
			}
		}
		w.Members = append(w.Members, mem)
	}
	return w, nil
}

func decodeEntry(x any) (Entry, error) {
	m, ok := x.(map[string]any)
	if !ok {
		return Entry{}, fmt.Errorf("want a map, got %T", x)
	}
	var e Entry
	e.Key.Method, _ = m["method"].(string)
	e.Key.Name, _ = m["name"].(string)
	var raw []byte
	switch h := m["hdr"].(type) {
	case []byte:
		raw = h
	case string: // a relay that turned bytes into text
		raw = []byte(h)
	default:
		return Entry{}, fmt.Errorf("hdr: want bytes, got %T", m["hdr"])
	}
	h, err := hdrhistogram.Decode(raw)
	if err != nil {
		return Entry{}, fmt.Errorf("hdr: %w", err)
	}
	s := stats.NewSummary()
	if dropped := s.Hist.Merge(h); dropped != 0 {
		return Entry{}, fmt.Errorf("hdr: %d values out of range", dropped)
	}
	var nerr error
	get := func(k string) int64 {
		f, err := number(m[k])
		if err != nil && nerr == nil {
			nerr = fmt.Errorf("%s: %w", k, err)
		}
		return int64(f)
	}
	s.Requests, s.Failures, s.SumNanos = get("requests"), get("failures"), get("sum_ns")
	s.MinNanos, s.MaxNanos, s.ContentLength = get("min_ns"), get("max_ns"), get("bytes")
	if nerr != nil {
		return Entry{}, nerr
	}
	if s.Hist.TotalCount() != s.Requests {
		return Entry{}, fmt.Errorf("histogram holds %d values for %d requests", s.Hist.TotalCount(), s.Requests)
	}
	if errs, ok := m["errors"].(map[string]any); ok {
		s.Errors = map[string]int64{}
		for k, v := range errs {
			if f, err := number(v); err == nil {
				s.Errors[k] = int64(f)
			}
		}
	}
	e.Summary = s
	return e, nil
}

// number reads a msgpack number (any integer or float type).
func number(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case int:
		return float64(n), nil
	case int8:
		return float64(n), nil
	case int16:
		return float64(n), nil
	case int32:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case uint8:
		return float64(n), nil
	case uint16:
		return float64(n), nil
	case uint32:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case nil:
		return 0, nil
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func fromUnix(s float64) time.Time {
	if s <= 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return time.Time{}
	}
	return time.Unix(0, int64(s*1e9)).UTC()
}

// sortEntries orders entries as the statistics do: by name, then method.
func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool {
		if es[i].Key.Name != es[j].Key.Name {
			return es[i].Key.Name < es[j].Key.Name
		}
		return es[i].Key.Method < es[j].Key.Method
	})
}
