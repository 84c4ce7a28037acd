package reports

import (
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/zkload/zkload/stats"
)

// The overview: what answers "how did this run go" on one screen, above the tests'
// sections: the verdicts, every test side by side, the ensemble's health, the failovers
// and, with several runs, the differences with their direction.

// testID is the anchor of a test's section in report.html.
func testID(prefix, label string) string { return "t-" + figID(prefix, label) }

// sideRow is one row of the side-by-side figure: one operation of one test.
type sideRow struct {
	Label, Href string
	Row         SummaryRow
}

// sideRows are the operations of every test of every run (a test's Total only when it
// has no operation of its own: Locust's history without distributions).
func (rep *Report) sideRows() []sideRow {
	var out []sideRow
	for ri, rr := range rep.Runs {
		prefix := runPrefix(rep, ri)
		for _, a := range rr.Analyses {
			var rows []SummaryRow
			for _, r := range a.Summary {
				if !r.Key.IsTotal() {
					rows = append(rows, r)
				}
			}
			if len(rows) == 0 {
				rows = a.Summary
			}
			for _, r := range rows {
				label := a.Test.Label
				if !r.Key.IsTotal() {
					label += " · " + opName(a.Test.Label, r.Key)
				}
				if len(rep.Runs) > 1 {
					label = rr.Run.Label + " · " + label
				}
				out = append(out, sideRow{Label: label, Href: "#" + testID(prefix, a.Test.Label), Row: r})
			}
		}
	}
	return out
}

// opName is an operation's name in test: the op, with its task set when that says
// more than the test's name.
func opName(test string, k stats.Key) string {
	if k.Name == k.Method || k.Name == "" || k.Name == test {
		return k.Method
	}
	return k.Name + " " + k.Method
}

func runPrefix(rep *Report, i int) string {
	if len(rep.Runs) > 1 {
		return fmt.Sprintf("r%d", i+1)
	}
	return ""
}

// sideBySideSVG draws every test and operation side by side: the rate as a bar, p50,
// p99 and p99.9 as marks on one log axis shared by all rows, and the failures; each
// row links to its test's section and names its values on hover (<title>). It is
// inline in report.html and a file for report.md.
func sideBySideSVG(rows []sideRow) []byte {
	const (
		rowH              = 22
		top               = 46
		labelW            = 300
		rateX, rateW      = 310, 150
		latX, latW        = 540, 330
		errX              = 900
		width             = 1040
		p50c, p99c, p999c = "#5a9bd4", "#faa75b", "#f15a60"
		textStyle         = `font-family="sans-serif" font-size="12"`
		headStyle         = `font-family="sans-serif" font-size="12" font-weight="bold"`
	)
	height := top + rowH*len(rows) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="side" viewBox="0 0 %d %d" width="%d" height="%d">`, width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, width, height)
	maxRate, lo, hi := 0.0, math.Inf(1), 0.0
	for _, r := range rows {
		maxRate = math.Max(maxRate, r.Row.RPS)
		for _, v := range []float64{r.Row.P50, r.Row.P99, r.Row.P999} {
			if v > 0 && !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 0.1, 1
	}
	lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	if hi <= lo {
		hi = lo * 10
	}
	lx := func(v float64) float64 { return latX + latW*math.Log10(v/lo)/math.Log10(hi/lo) }
	fmt.Fprintf(&b, `<text x="0" y="16" %s>test · operation</text>`, headStyle)
	fmt.Fprintf(&b, `<text x="%d" y="16" %s>requests per second</text>`, rateX, headStyle)
	fmt.Fprintf(&b, `<text x="%d" y="16" %s>latency, ms (log): <tspan fill="%s">● p50</tspan> <tspan fill="%s">● p99</tspan> <tspan fill="%s">◆ p99.9</tspan></text>`, latX, headStyle, p50c, p99c, p999c)
	fmt.Fprintf(&b, `<text x="%d" y="16" %s>failures</text>`, errX, headStyle)
	for d := lo; d <= hi*1.0001; d *= 10 {
		x := lx(d)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`, x, top-8, x, height-8)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" %s fill="#555">%s</text>`, x, top-12, textStyle, trimNum(d))
	}
	for i, r := range rows {
		y := top + i*rowH
		s := r.Row
		tip := fmt.Sprintf("%s: %d requests, %.1f/s; p50 %s ms, p99 %s ms, p99.9 %s ms, max %s ms; %d failures",
			r.Label, s.Requests, s.RPS, fmtMS(s.P50), fmtMS(s.P99), fmtMS(s.P999), fmtMS(s.Max), s.Failures)
		if i%2 == 0 {
			fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" fill="#f6f6f6"/>`, y, width, rowH)
		}
		fmt.Fprintf(&b, `<a href="%s"><g><title>%s</title>`, html.EscapeString(r.Href), html.EscapeString(tip))
		fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" fill="transparent"/>`, y, width, rowH)
		fmt.Fprintf(&b, `<text x="4" y="%d" %s fill="#1a4d8f">%s</text>`, y+15, textStyle, html.EscapeString(clip(r.Label, 44)))
		if maxRate > 0 {
			w := rateW * s.RPS / maxRate
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="#7ac36a"/>`, rateX, y+5, w, rowH-10)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s>%.1f</text>`, float64(rateX)+w+4, y+15, textStyle, s.RPS)
		}
		p := func(v float64) (float64, bool) { return lx(v), v > 0 && !math.IsNaN(v) }
		x50, ok50 := p(s.P50)
		x999, ok999 := p(s.P999)
		if ok50 && ok999 {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999"/>`, x50, y+11, x999, y+11)
		}
		if ok50 {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="4" fill="%s"/>`, x50, y+11, p50c)
		}
		if x, ok := p(s.P99); ok {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%d" r="4.5" fill="%s"/>`, x, y+11, p99c)
		}
		if ok999 {
			fmt.Fprintf(&b, `<path d="M%.1f %dl5 5l-5 5l-5-5z" fill="%s"/>`, x999, y+6, p999c)
		}
		errText, fill := "0", "#555"
		if s.Failures > 0 {
			errText, fill = fmt.Sprintf("%d (%.2f %%)", s.Failures, 100*float64(s.Failures)/math.Max(1, float64(s.Requests))), "#c00"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s fill="%s">%s</text>`, errX, y+15, textStyle, fill, errText)
		b.WriteString(`</g></a>`)
	}
	b.WriteString(`</svg>`)
	return []byte(b.String())
}

func trimNum(v float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", v), ".0") }

// ensembleRow is one test's ensemble health in the overview.
type ensembleRow struct {
	Test, Href, Members, States string
	LeaderMoves, FailedPolls    int
	MaxOutstanding, MaxLatency  string
}

func (rep *Report) ensembleRows() []ensembleRow {
	var out []ensembleRow
	for ri, rr := range rep.Runs {
		for _, a := range rr.Analyses {
			if len(a.Members) == 0 {
				continue
			}
			e := ensembleRow{Test: a.Test.Label, Href: "#" + testID(runPrefix(rep, ri), a.Test.Label), LeaderMoves: len(a.LeaderMoves)}
			if len(rep.Runs) > 1 {
				e.Test = rr.Run.Label + " · " + e.Test
			}
			var states []string
			maxOut, maxLat := math.NaN(), math.NaN()
			for _, m := range a.Members {
				e.FailedPolls += len(m.Errors)
				st := "?"
				if n := len(m.States); n > 0 {
					st = m.States[n-1].State
				}
				states = append(states, m.HostPort+" "+st)
				for _, p := range m.Series["outstanding_requests"] {
					if !(p.V <= maxOut) {
						maxOut = p.V
					}
				}
				for _, p := range windowedMean(m, "readlatency") {
					if !(p.V <= maxLat) {
						maxLat = p.V
					}
				}
			}
			e.Members = fmt.Sprint(len(a.Members))
			e.States = strings.Join(states, ", ")
			e.MaxOutstanding, e.MaxLatency = fmtNum(maxOut), fmtNum(maxLat)
			out = append(out, e)
		}
	}
	return out
}

// failoverRow is one fault's failover in the overview (the test's section has the
// whole line, failover.csv every figure).
type failoverRow struct {
	Test, Href, Time, Action, Member, Election, FirstSuccess, Dip, Recovery, P99, SessionsLost string
}

func (rep *Report) failoverRows() []failoverRow {
	var out []failoverRow
	for ri, rr := range rep.Runs {
		for _, a := range rr.Analyses {
			for _, fo := range a.failovers() {
				f := fo.Fault
				r := failoverRow{Test: a.Test.Label, Href: "#" + testID(runPrefix(rep, ri), a.Test.Label),
					Time: f.Time.Format("15:04:05.000"), Action: f.Action, Member: f.Member + " (" + f.RoleBefore + ")",
					FirstSuccess: fmtDur(fo.FirstSuccess), Dip: fmt.Sprintf("%.0f %%", 100*fo.Dip), Recovery: fmtDur(fo.Recovery),
					P99:          fmt.Sprintf("%s / %s / %s", fmtMS(fo.P99Before), fmtMS(fo.P99During), fmtMS(fo.P99After)),
					SessionsLost: fmt.Sprint(fo.SessionsLost), Election: "n/a"}
				if f.Election >= 0 {
					r.Election = fmtDur(f.Election)
				}
				if len(rep.Runs) > 1 {
					r.Test = rr.Run.Label + " · " + r.Test
				}
				out = append(out, r)
			}
		}
	}
	return out
}

// direction says whether a change is better or worse: for a rate higher is better, for
// a latency or a failure count lower is; within 2 % it is the same.
func direction(c float64, higherBetter bool) string {
	switch {
	case math.IsNaN(c):
		return ""
	case math.Abs(c) < 0.02:
		return "same"
	case (c > 0) == higherBetter:
		return "better"
	}
	return "worse"
}

// changeThreshold is the change the overview states (smaller ones are in the table).
const changeThreshold = 0.10

// changes states each compared operation's changes of 10 % or more, with their
// direction, in one line: "get get: after against before: p99 +50% (worse), ...".
func (c *Comparison) changes() []string {
	var out []string
	for _, d := range c.Capacity {
		out = append(out, fmt.Sprintf("%s capacity: %s against %s: %s.", d.Test, d.Run, c.Base, d.text()))
	}
	for _, d := range c.Rows {
		var parts []string
		add := func(name string, b, t float64, higherBetter bool) {
			if ch := Change(b, t); !math.IsNaN(ch) && math.Abs(ch) >= changeThreshold {
				parts = append(parts, fmt.Sprintf("%s %s (%s)", name, pct(ch), direction(ch, higherBetter)))
			}
		}
		add("req/s", d.Base.RPS, d.This.RPS, true)
		add("p50", d.Base.P50, d.This.P50, false)
		add("p99", d.Base.P99, d.This.P99, false)
		add("p99.9", d.Base.P999, d.This.P999, false)
		if d.This.Failures != d.Base.Failures {
			dir := "worse"
			if d.This.Failures < d.Base.Failures {
				dir = "better"
			}
			parts = append(parts, fmt.Sprintf("failures %d → %d (%s)", d.Base.Failures, d.This.Failures, dir))
		}
		name := d.Test + " " + opName(d.Test, d.Key)
		if d.Key.IsTotal() {
			name = d.Test + " Total"
		}
		if len(parts) == 0 {
			out = append(out, fmt.Sprintf("%s: %s against %s: no change of 10 %% or more.", name, d.Run, c.Base))
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s against %s: %s.", name, d.Run, c.Base, strings.Join(parts, ", ")))
	}
	return out
}
