package reports

import (
	"fmt"
	"sort"
	"time"

	"github.com/zkload/zkload/stats"
)

// Section is a titled group of figures, with notes saying what could not be drawn,
// and a table (nil: none).
type Section struct {
	Title   string
	Figures []*Figure
	Notes   []string
	Table   *Table
}

// Table is a section's table: a header, rows of cells, and the rows to stress (a
// seek's knee).
type Table struct {
	Header []string
	Rows   [][]string
	Strong []bool
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func keyTitle(k stats.Key) string {
	if k.IsTotal() {
		return "Total"
	}
	return fmt.Sprintf("task set %q, op %q", k.Name, k.Method)
}

func (a *Analysis) markers() []float64 {
	var out []float64
	for _, t := range a.LeaderMoves {
		out = append(out, unix(t))
	}
	return out
}

// opSections returns one section per task set and operation of the test (the Total
// too when there are several).
func (a *Analysis) opSections(prefix string) []Section {
	keys := append([]stats.Key(nil), a.Keys...)
	if len(keys) != 1 {
		keys = append(keys, stats.TotalKey)
	}
	var out []Section
	for _, k := range keys {
		out = append(out, a.opSection(prefix, k))
	}
	return out
}

var windowPercentiles = []struct {
	p    float64
	name string
}{{50, "p50"}, {95, "p95"}, {99, "p99"}, {99.9, "p99.9"}}

func (a *Analysis) opSection(prefix string, k stats.Key) Section {
	sec := Section{Title: fmt.Sprintf("%s: %s", a.Test.Label, keyTitle(k))}
	id := func(what string) string { return figID(prefix, a.Test.Label, k.Name, k.Method, what) }
	marks := a.markers()
	if len(a.Slots) == 0 {
		sec.Notes = append(sec.Notes, "No distribution files: latency over time, rates, users and errors come from Locust's history (total only, ms buckets).")
		sec.Figures = append(sec.Figures, a.locustFallback(id, k)...)
		return sec
	}
	// Windowed latency percentiles over time.
	lat := &Figure{ID: id("latency"), Title: "Latency percentiles per window: " + keyTitle(k), YLabel: "ms", LogY: true, Markers: marks}
	for i, wp := range windowPercentiles {
		s := Series{Name: wp.name, Style: i}
		for _, sl := range a.Slots {
			if sum := sl.PerKey[k]; sum != nil && sum.Requests > 0 {
				s.X = append(s.X, unix(sl.End))
				s.Y = append(s.Y, usMS(sum.Percentile(wp.p)))
			}
		}
		lat.Series = append(lat.Series, s)
	}
	if len(a.Clients) > 1 {
		// Each worker's own p99 (interactive charts only): its extended-statistics CSV's.
		for i, c := range a.Clients {
			s := Series{Name: "p99 " + shortClient(c), Style: 4 + i, Dotted: true, WebOnly: true, Worker: c}
			for _, sl := range a.Slots {
				if v, ok := sl.WorkerP99[c][k]; ok {
					s.X, s.Y = append(s.X, unix(sl.End)), append(s.Y, usMS(v))
				}
			}
			lat.Series = append(lat.Series, s)
		}
	}
	// Requests, successes and failures per second.
	rates := &Figure{ID: id("rates"), Title: "Requests per second: " + keyTitle(k), YLabel: "per second", Markers: marks}
	req, ok, fail := Series{Name: "requests", Style: 0}, Series{Name: "successes", Style: 1, Dotted: true}, Series{Name: "failures", Style: 2}
	for _, sl := range a.Slots {
		var n, f int64
		if sum := sl.PerKey[k]; sum != nil {
			n, f = sum.Requests, sum.Failures
		}
		x, w := unix(sl.End), sl.Width.Seconds()
		req.X, req.Y = append(req.X, x), append(req.Y, float64(n)/w)
		ok.X, ok.Y = append(ok.X, x), append(ok.Y, float64(n-f)/w)
		fail.X, fail.Y = append(fail.X, x), append(fail.Y, float64(f)/w)
	}
	rates.Series = []Series{req, ok, fail}
	// Users: total and per worker.
	users := &Figure{ID: id("users"), Title: "Users", YLabel: "users", Markers: marks}
	total := Series{Name: "total", Style: 0}
	per := make([]Series, len(a.Clients))
	for i, c := range a.Clients {
		per[i] = Series{Name: shortClient(c), Style: i + 1, Dotted: true}
	}
	last := map[string]int{}
	for _, sl := range a.Slots {
		sum := 0
		for i, c := range a.Clients {
			if u, ok := sl.Users[c]; ok {
				last[c] = u
				per[i].X, per[i].Y = append(per[i].X, unix(sl.End)), append(per[i].Y, float64(u))
			}
			sum += last[c]
		}
		total.X, total.Y = append(total.X, unix(sl.End)), append(total.Y, float64(sum))
	}
	users.Series = append([]Series{total}, per...)
	// Errors by type over time.
	errs := &Figure{ID: id("errors"), Title: "Errors per second by type: " + keyTitle(k), YLabel: "per second", Markers: marks}
	texts := map[string]bool{}
	for _, sl := range a.Slots {
		for kk, sum := range sl.PerKey {
			if (kk == k || (k.IsTotal() && !kk.IsTotal() && !kk.IsValue())) && len(sum.Errors) > 0 {
				for e := range sum.Errors {
					texts[e] = true
				}
			}
		}
	}
	var names []string
	for e := range texts {
		names = append(names, e)
	}
	sort.Strings(names)
	for i, e := range names {
		s := Series{Name: clip(e, 60), Style: i}
		for _, sl := range a.Slots {
			var n int64
			for kk, sum := range sl.PerKey {
				if kk == k || (k.IsTotal() && !kk.IsTotal() && !kk.IsValue()) {
					n += sum.Errors[e]
				}
			}
			s.X, s.Y = append(s.X, unix(sl.End)), append(s.Y, float64(n)/sl.Width.Seconds())
		}
		errs.Series = append(errs.Series, s)
	}
	// The whole run's distribution, merged exactly across workers.
	dist := &Figure{ID: id("distribution"), Title: "Latency distribution (all workers merged): " + keyTitle(k), YLabel: "ms", Percentile: true, LogY: true}
	if sum := a.Merged[k]; sum != nil {
		xs, ys := percentileCurve(sum.Requests, sum.Percentile)
		dist.Series = append(dist.Series, Series{Name: a.Test.Label, X: xs, Y: ys})
	}
	sec.Figures = []*Figure{lat, rates, users}
	if len(names) > 0 {
		sec.Figures = append(sec.Figures, errs)
	} else {
		sec.Notes = append(sec.Notes, "No errors.")
	}
	sec.Figures = append(sec.Figures, dist)
	return sec
}

// locustFallback draws what Locust's history holds (the Aggregated line).
func (a *Analysis) locustFallback(id func(string) string, k stats.Key) []*Figure {
	if len(a.Test.History) == 0 || !k.IsTotal() && len(a.Keys) > 1 {
		return nil
	}
	lat := &Figure{ID: id("latency"), Title: "Latency percentiles (Locust, last ~10 s)", YLabel: "ms", LogY: true, Markers: a.markers()}
	rates := &Figure{ID: id("rates"), Title: "Requests per second (Locust)", YLabel: "per second", Markers: a.markers()}
	users := &Figure{ID: id("users"), Title: "Users (Locust)", YLabel: "users", Markers: a.markers()}
	p := []Series{{Name: "p50", Style: 0}, {Name: "p95", Style: 1}, {Name: "p99", Style: 2}, {Name: "p99.9", Style: 3}}
	r := []Series{{Name: "requests", Style: 0}, {Name: "failures", Style: 2}}
	u := Series{Name: "total", Style: 0}
	for _, h := range a.Test.History {
		if h.Name != "Aggregated" {
			continue
		}
		x := unix(h.Time)
		for i, v := range []float64{h.P50, h.P95, h.P99, h.P999} {
			p[i].X, p[i].Y = append(p[i].X, x), append(p[i].Y, v)
		}
		r[0].X, r[0].Y = append(r[0].X, x), append(r[0].Y, h.RPS)
		r[1].X, r[1].Y = append(r[1].X, x), append(r[1].Y, h.FPS)
		u.X, u.Y = append(u.X, x), append(u.Y, float64(h.Users))
	}
	lat.Series, rates.Series, users.Series = p, r, []Series{u}
	return []*Figure{lat, rates, users}
}

// ensembleFigures is one figure per quantity, one line per member.
var ensembleQuantities = []struct {
	id, title, ylabel string
	metrics           []string
}{
	{"outstanding", "Outstanding requests", "requests", []string{"outstanding_requests"}},
	{"connections", "Connections", "connections", []string{"num_alive_connections"}},
	{"znodes", "Znodes (solid) and ephemerals (dotted)", "nodes", []string{"znode_count", "ephemerals_count"}},
	{"watches", "Watches", "watches", []string{"watch_count"}},
	{"latency", "Server latency (windowed mean: read solid, update dotted)", "ms", []string{"readlatency", "updatelatency"}},
	{"packets", "Packets per second (received solid, sent dotted)", "per second", []string{"packets_received_per_sec", "packets_sent_per_sec"}},
}

func (a *Analysis) ensembleSection(prefix string) Section {
	sec := Section{Title: a.Test.Label + ": ensemble"}
	if len(a.Members) == 0 {
		sec.Notes = append(sec.Notes, "No ensemble metrics.")
		return sec
	}
	marks := a.markers()
	for _, q := range ensembleQuantities {
		f := &Figure{ID: figID(prefix, a.Test.Label, "zk", q.id), Title: q.title, YLabel: q.ylabel, Markers: marks}
		for i, m := range a.Members {
			for j, metric := range q.metrics {
				pts := m.Series[metric]
				if q.id == "latency" {
					pts = windowedMean(m, metric)
				}
				s := Series{Name: m.HostPort, Style: i, Dotted: j > 0}
				if j > 0 {
					s.Name, s.Label = "", m.HostPort+" "+metric
				}
				for _, p := range pts {
					s.X, s.Y = append(s.X, unix(p.T)), append(s.Y, p.V)
				}
				f.Series = append(f.Series, s)
			}
		}
		if f.empty() {
			sec.Notes = append(sec.Notes, fmt.Sprintf("%s: no %v in the metrics.", q.title, q.metrics))
			continue
		}
		sec.Figures = append(sec.Figures, f)
	}
	// State over time: leader 3, follower/observer 2, standalone 3, error 0.
	st := &Figure{ID: figID(prefix, a.Test.Label, "zk", "state"), Title: "Member state (3 leader/standalone, 2 follower, 1 observer/other, 0 not serving)", YLabel: "state", Markers: marks}
	for i, m := range a.Members {
		s := Series{Name: m.HostPort, Style: i}
		for _, p := range m.States {
			s.X, s.Y = append(s.X, unix(p.T)), append(s.Y, stateLevel(p.State)+0.05*float64(i))
		}
		st.Series = append(st.Series, s)
	}
	sec.Figures = append(sec.Figures, st)
	return sec
}

func stateLevel(s string) float64 {
	switch s {
	case "leader", "standalone":
		return 3
	case "follower":
		return 2
	case "error", "":
		return 0
	}
	return 1
}

// windowedMean is a summary's mean over each poll interval, sum_X_per_sec /
// cnt_X_per_sec, falling back on the cumulative avg_X (avg_latency without summaries).
func windowedMean(m *Member, metric string) []Point {
	sums, cnts := m.Series["sum_"+metric+"_per_sec"], m.Series["cnt_"+metric+"_per_sec"]
	if len(sums) > 0 && len(cnts) > 0 {
		byT := map[time.Time]float64{}
		for _, c := range cnts {
			byT[c.T] = c.V
		}
		var out []Point
		for _, s := range sums {
			if c, ok := byT[s.T]; ok && c > 0 {
				out = append(out, Point{s.T, s.V / c})
			}
		}
		return out
	}
	if metric == "readlatency" {
		return m.Series["avg_latency"]
	}
	return m.Series["avg_"+metric]
}

func shortClient(c string) string {
	if len(c) > 20 {
		return c[:20] + "…"
	}
	return c
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
