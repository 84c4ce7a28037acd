package reports

import (
	"fmt"

	"github.com/zkload/zkload/stats"
)

// Comparison is the several-runs part: a table of differences against the first run,
// and the figures of every run overlaid on a relative time axis.
type Comparison struct {
	Base     string
	Rows     []DiffRow
	Sections []Section
	// Capacity compares the seeks' capacities, test by test.
	Capacity []CapacityDiff
}

// DiffRow compares one test's task set/operation in one run with the first run.
type DiffRow struct {
	Test, Run  string
	Key        stats.Key
	Base, This SummaryRow
}

// Change is (this - base) / base, NaN when base is 0 or unknown.
func Change(base, this float64) float64 {
	if base == 0 || base != base || this != this {
		return nan()
	}
	return (this - base) / base
}

func nan() float64 { var z float64; return z / z }

func compare(runs []*RunReport) *Comparison {
	c := &Comparison{Base: runs[0].Run.Label, Capacity: capacityDiffs(runs)}
	base := runs[0]
	for _, br := range base.Summary {
		for _, rr := range runs[1:] {
			for _, r := range rr.Summary {
				if r.Test == br.Test && r.Key == br.Key {
					c.Rows = append(c.Rows, DiffRow{Test: br.Test, Run: rr.Run.Label, Key: br.Key, Base: br, This: r})
				}
			}
		}
	}
	// Overlays per test label and key present in at least two runs.
	type tk struct {
		test string
		key  stats.Key
	}
	var order []tk
	seen := map[tk]int{}
	for _, rr := range runs {
		for _, a := range rr.Analyses {
			keys := append([]stats.Key(nil), a.Keys...)
			if len(keys) != 1 {
				keys = append(keys, stats.TotalKey)
			}
			for _, k := range keys {
				x := tk{a.Test.Label, k}
				if seen[x] == 0 {
					order = append(order, x)
				}
				seen[x]++
			}
		}
	}
	tests := map[string]int{}
	var testOrder []string
	for _, x := range order {
		if seen[x] < 2 {
			continue
		}
		c.Sections = append(c.Sections, overlay(runs, x.test, x.key))
		if tests[x.test] == 0 {
			testOrder = append(testOrder, x.test)
		}
		tests[x.test]++
	}
	for _, test := range testOrder {
		if sec := ensembleOverlay(runs, test); len(sec.Figures) > 0 {
			c.Sections = append(c.Sections, sec)
		}
	}
	return c
}

// ensembleOverlay overlays the ensemble's figures of a test in every run, on seconds
// from each run's start: one colour per run, a line per member (the second metric of
// a figure dotted).
func ensembleOverlay(runs []*RunReport, test string) Section {
	sec := Section{Title: fmt.Sprintf("Comparison: %s: ensemble", test)}
	type runA struct {
		i     int
		label string
		a     *Analysis
	}
	var with []runA
	for i, rr := range runs {
		for _, a := range rr.Analyses {
			if a.Test.Label == test && len(a.Members) > 0 {
				with = append(with, runA{i, rr.Run.Label, a})
			}
		}
	}
	if len(with) < 2 {
		return sec
	}
	name := func(r runA, m *Member) string {
		if len(r.a.Members) == 1 {
			return r.label
		}
		return r.label + " " + m.HostPort
	}
	for _, q := range ensembleQuantities {
		f := &Figure{ID: figID("cmp", test, "zk", q.id), Title: q.title, YLabel: q.ylabel, Relative: true}
		for _, r := range with {
			for _, m := range r.a.Members {
				for j, metric := range q.metrics {
					pts := m.Series[metric]
					if q.id == "latency" {
						pts = windowedMean(m, metric)
					}
					s := Series{Name: name(r, m), Style: r.i, Dotted: j > 0}
					if j > 0 {
						s.Name, s.Label = "", name(r, m)+" "+metric
					}
					for _, p := range pts {
						s.X, s.Y = append(s.X, p.T.Sub(r.a.Start).Seconds()), append(s.Y, p.V)
					}
					f.Series = append(f.Series, s)
				}
			}
		}
		if !f.empty() {
			sec.Figures = append(sec.Figures, f)
		}
	}
	st := &Figure{ID: figID("cmp", test, "zk", "state"), Title: "Member state (3 leader/standalone, 2 follower, 1 observer/other, 0 not serving)", YLabel: "state", Relative: true}
	for _, r := range with {
		for j, m := range r.a.Members {
			s := Series{Name: name(r, m), Style: r.i}
			for _, p := range m.States {
				s.X, s.Y = append(s.X, p.T.Sub(r.a.Start).Seconds()), append(s.Y, stateLevel(p.State)+0.05*float64(j))
			}
			st.Series = append(st.Series, s)
		}
	}
	if !st.empty() {
		sec.Figures = append(sec.Figures, st)
	}
	return sec
}

func overlay(runs []*RunReport, test string, k stats.Key) Section {
	sec := Section{Title: fmt.Sprintf("Comparison: %s: %s", test, keyTitle(k))}
	id := func(what string) string { return figID("cmp", test, k.Name, k.Method, what) }
	lat := &Figure{ID: id("latency"), Title: "Latency per window: p99 (solid), p50 (dotted)", YLabel: "ms", Relative: true, LogY: true}
	rates := &Figure{ID: id("rates"), Title: "Requests per second", YLabel: "per second", Relative: true}
	users := &Figure{ID: id("users"), Title: "Users", YLabel: "users", Relative: true}
	errs := &Figure{ID: id("errors"), Title: "Failures per second", YLabel: "per second", Relative: true}
	dist := &Figure{ID: id("distribution"), Title: "Latency distribution (all workers merged)", YLabel: "ms", Percentile: true, LogY: true}
	for i, rr := range runs {
		var a *Analysis
		for _, x := range rr.Analyses {
			if x.Test.Label == test {
				a = x
			}
		}
		if a == nil || len(a.Slots) == 0 {
			if a != nil {
				sec.Notes = append(sec.Notes, fmt.Sprintf("%s: no distributions, left out.", rr.Run.Label))
			}
			continue
		}
		name := rr.Run.Label
		p99, p50 := Series{Name: name, Style: i}, Series{Style: i, Dotted: true, Label: name + " p50"}
		rps, us, fs := Series{Name: name, Style: i}, Series{Name: name, Style: i}, Series{Name: name, Style: i}
		anyFail := false
		last := map[string]int{}
		for _, sl := range a.Slots {
			x := sl.End.Sub(a.Start).Seconds()
			sum := sl.PerKey[k]
			var n int64
			if sum != nil && sum.Requests > 0 {
				n = sum.Requests
				p99.X, p99.Y = append(p99.X, x), append(p99.Y, usMS(sum.Percentile(99)))
				p50.X, p50.Y = append(p50.X, x), append(p50.Y, usMS(sum.Percentile(50)))
			}
			rps.X, rps.Y = append(rps.X, x), append(rps.Y, float64(n)/sl.Width.Seconds())
			var nf int64
			if sum != nil {
				nf = sum.Failures
			}
			anyFail = anyFail || nf > 0
			fs.X, fs.Y = append(fs.X, x), append(fs.Y, float64(nf)/sl.Width.Seconds())
			total := 0
			for _, c := range a.Clients {
				if u, ok := sl.Users[c]; ok {
					last[c] = u
				}
				total += last[c]
			}
			us.X, us.Y = append(us.X, x), append(us.Y, float64(total))
		}
		lat.Series = append(lat.Series, p99, p50)
		rates.Series = append(rates.Series, rps)
		users.Series = append(users.Series, us)
		if anyFail {
			errs.Series = append(errs.Series, fs)
		}
		if sum := a.Merged[k]; sum != nil {
			xs, ys := percentileCurve(sum.Requests, sum.Percentile)
			dist.Series = append(dist.Series, Series{Name: name, Style: i, X: xs, Y: ys})
		}
	}
	for _, f := range []*Figure{lat, rates, users, errs, dist} {
		if !f.empty() {
			sec.Figures = append(sec.Figures, f)
		}
	}
	return sec
}
