package reports

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
)

// chartSpec is one interactive chart's data as report.html embeds it, for
// zkcharts.timeChart (reports/web/zkcharts.js): the x values every line shares, and
// each line's y values (null where it has none). Milliseconds are sent as whole
// microseconds (US), x as unix seconds to the ms ("time"), seconds from the start
// ("rel") or 1/(1-q) ("pct"), other values to 5 significant digits.
type chartSpec struct {
	ID     string        `json:"id"`
	Title  string        `json:"title"`
	Y      string        `json:"y"`
	X      string        `json:"x"`
	Log    bool          `json:"log,omitempty"`
	US     bool          `json:"us,omitempty"`
	T      []json.Number `json:"t"`
	S      []seriesSpec  `json:"s"`
	Leader []json.Number `json:"leader,omitempty"`
	Fault  []json.Number `json:"fault,omitempty"`
	// A load controller's levels (x "level"): the x axis's label, the knee and the
	// levels that failed.
	XLabel string        `json:"xl,omitempty"`
	Knee   []json.Number `json:"knee,omitempty"`
	Failed []json.Number `json:"failed,omitempty"`
	// Hover is a text per x (null: none), shown under the chart at the cursor.
	Hover []*string `json:"hover,omitempty"`
}

type seriesSpec struct {
	Name   string `json:"n"`
	Style  int    `json:"c"`
	Dotted bool   `json:"d,omitempty"`
	Worker string `json:"w,omitempty"`
	// Points: marks at the points; Line with it: joined by a line too.
	Points bool  `json:"p,omitempty"`
	Line   bool  `json:"l,omitempty"`
	V      []any `json:"v"` // json.Number or nil
}

// spec returns the figure's chart data.
func (f *Figure) spec() chartSpec {
	c := chartSpec{ID: f.ID, Title: f.Title, Y: f.YLabel, X: "time", Log: f.LogY, US: f.YLabel == "ms"}
	fx := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	switch {
	case f.Percentile:
		c.X = "pct"
		fx = func(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
	case f.Relative:
		c.X = "rel"
	case f.Level:
		c.X, c.XLabel = "level", f.XLabel
		fx = func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	}
	fy := func(y float64) string { return strconv.FormatFloat(y, 'g', 5, 64) }
	if c.US {
		fy = func(y float64) string { return strconv.FormatFloat(math.Round(y*1000), 'f', 0, 64) }
	}
	// The union of every line's x, in order.
	xs := map[string]float64{}
	for _, s := range f.Series {
		for _, x := range s.X {
			xs[fx(x)] = x
		}
	}
	keys := make([]string, 0, len(xs))
	for k := range xs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return xs[keys[i]] < xs[keys[j]] })
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
		c.T = append(c.T, json.Number(k))
	}
	for _, s := range f.Series {
		if len(s.X) == 0 {
			continue
		}
		ss := seriesSpec{Name: s.Name, Style: s.Style, Dotted: s.Dotted, Worker: s.Worker, Points: s.Points, Line: s.Line, V: make([]any, len(keys))}
		if ss.Name == "" {
			ss.Name = s.Label
		}
		for i, x := range s.X {
			y := s.Y[i]
			if math.IsNaN(y) || math.IsInf(y, 0) || (f.LogY && y <= 0) {
				continue
			}
			ss.V[index[fx(x)]] = json.Number(fy(y))
		}
		c.S = append(c.S, ss)
	}
	for _, m := range f.Markers {
		c.Leader = append(c.Leader, json.Number(fx(m)))
	}
	for _, m := range f.Faults {
		c.Fault = append(c.Fault, json.Number(fx(m)))
	}
	for _, m := range f.Knee {
		c.Knee = append(c.Knee, json.Number(fx(m)))
	}
	for _, m := range f.Failed {
		c.Failed = append(c.Failed, json.Number(fx(m)))
	}
	if len(f.Hover) > 0 {
		c.Hover = make([]*string, len(keys))
		for x, text := range f.Hover {
			if i, ok := index[fx(x)]; ok {
				c.Hover[i] = &text
			}
		}
	}
	return c
}

// chartData is a group of charts' data (a test's, the comparison's) as JSON, to be
// parsed when the group is opened.
func chartData(figs []*Figure) []byte {
	specs := make([]chartSpec, 0, len(figs))
	for _, f := range figs {
		specs = append(specs, f.spec())
	}
	b, _ := json.Marshal(specs) // escapes <, > and &: safe inside <script>
	return b
}
