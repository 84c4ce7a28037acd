package reports

import (
	"bytes"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Series is one line of a figure.
type Series struct {
	Name string
	X, Y []float64
	// Style picks the colour and dashes: lines of one Style index look alike.
	Style int
	// Dotted draws a thin dotted line (per-worker detail).
	Dotted bool
	// Label names a line left out of the static legend (Name "") in the interactive
	// chart's legend, which lists every line.
	Label string
	// WebOnly lines are drawn in the interactive chart only (per-worker detail that
	// would crowd a static figure); Worker is the worker (client id) of such a line.
	WebOnly bool
	Worker  string
	// Points draws a mark at each point, without a line unless Line is set too (the
	// levels of a seek's curve).
	Points, Line bool
}

// Figure is one plot: lines against time (unix seconds, or seconds from the start with
// Relative) or against percentiles (Percentile).
type Figure struct {
	ID     string // file name without extension
	Title  string
	YLabel string
	Series []Series
	// Markers are x values marked with a vertical line (leader moves).
	Markers []float64
	// Faults are x values of the faults timeline's actions, marked with a line of
	// their own.
	Faults []float64
	// Relative: x is seconds from the start; Percentile: x is 1/(1-q), log scaled;
	// Level: x is a load controller's level (XLabel: a rate or users), not time.
	Relative, Percentile, Level bool
	XLabel                      string
	// Knee and Failed are levels marked with a line of their own: a seek's capacity,
	// and the levels that failed.
	Knee, Failed []float64
	// Hover is a text per x value, shown with the values at the cursor in the
	// interactive chart (the controller's reason at each window).
	Hover map[float64]string
	LogY  bool
	SVG   []byte
}

// empty reports whether no series has a point.
func (f *Figure) empty() bool {
	for _, s := range f.Series {
		if len(s.X) > 0 {
			return false
		}
	}
	return true
}

const (
	figWidth  = 8 * vg.Inch
	figHeight = 3.2 * vg.Inch
)

// render draws the figure as SVG into f.SVG.
func (f *Figure) render() error {
	b, err := f.draw("svg")
	f.SVG = b
	return err
}

// draw renders the figure in a format gonum/plot knows (svg, png, pdf...): the plot
// with its title wrapped to its width, and the legend in a column of its own on the
// right, outside the data area, so that it never hides a line.
func (f *Figure) draw(format string) ([]byte, error) {
	p := plot.New()
	p.Y.Label.Text = f.YLabel
	p.Add(plotter.NewGrid())
	switch {
	case f.Percentile:
		p.X.Label.Text = "percentile"
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = percentileTicks{}
	case f.Relative:
		p.X.Label.Text = "seconds from start"
	case f.Level:
		p.X.Label.Text = f.XLabel
	default:
		p.X.Label.Text = "time (UTC)"
		p.X.Tick.Marker = plot.TimeTicks{Format: "15:04:05"}
	}
	if f.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.Padding = vg.Points(3)
	for _, s := range f.Series {
		if s.WebOnly {
			continue
		}
		xys := make(plotter.XYs, 0, len(s.X))
		for i := range s.X {
			y := s.Y[i]
			if math.IsNaN(y) || math.IsInf(y, 0) || (f.LogY && y <= 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: s.X[i], Y: y})
		}
		if len(xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		l.Color = plotutil.Color(s.Style)
		l.Width = vg.Points(1.2)
		if s.Dotted {
			l.Width = vg.Points(0.7)
			l.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		}
		if s.Points {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, err
			}
			sc.Color = l.Color
			sc.Radius = vg.Points(3)
			sc.Shape = draw.CircleGlyph{}
			p.Add(sc)
			if !s.Line {
				if s.Name != "" {
					legend.Add(clip(s.Name, legendChars), sc)
				}
				continue
			}
		}
		p.Add(l)
		if len(xys) == 1 {
			sc, _ := plotter.NewScatter(xys)
			sc.Color = l.Color
			p.Add(sc)
		}
		if s.Name != "" {
			legend.Add(clip(s.Name, legendChars), l)
		}
	}
	if len(f.Markers) > 0 {
		p.Add(vlines{xs: f.Markers, style: markerStyle})
		legend.Add("leader move", vlines{style: markerStyle})
	}
	if len(f.Faults) > 0 {
		p.Add(vlines{xs: f.Faults, style: faultStyle})
		legend.Add("fault", vlines{style: faultStyle})
	}
	if len(f.Failed) > 0 {
		p.Add(vlines{xs: f.Failed, style: failedStyle})
		legend.Add("level failed", vlines{style: failedStyle})
	}
	if len(f.Knee) > 0 {
		p.Add(vlines{xs: f.Knee, style: kneeStyle})
		legend.Add("knee (capacity)", vlines{style: kneeStyle})
	}
	if !f.LogY && p.Y.Min > 0 {
		p.Y.Min = 0
	}
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
	if !f.LogY {
		p.Y.Max += 0.05 * (p.Y.Max - p.Y.Min) // a line at the top is not drawn on the frame
	}
	c, err := draw.NewFormattedCanvas(figWidth+legendWidth, figHeight, format)
	if err != nil {
		return nil, err
	}
	dc := draw.New(c)
	p.Title.Text = wrapText(p.Title.TextStyle, f.Title, figWidth-2*p.Title.Padding)
	p.Draw(draw.Crop(dc, 0, -legendWidth, 0, 0))
	legend.Draw(draw.Crop(dc, figWidth+legendGap, 0, 0, -p.Title.Padding-p.Title.TextStyle.Height(p.Title.Text)-p.Title.Padding))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

const (
	// legendWidth is the column right of the plot that holds the legend; legendChars
	// the longest entry that fits it (longer ones are clipped with "…").
	legendWidth = 2.1 * vg.Inch
	legendGap   = 0.1 * vg.Inch
	legendChars = 26
)

// wrapText breaks s at spaces into lines no wider than max in sty (a word longer than
// a line stays whole on its own line).
func wrapText(sty text.Style, s string, max vg.Length) string {
	if sty.Width(s) <= max {
		return s
	}
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && sty.Width(line+" "+w) > max {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

// vlines marks x values with vertical red dashed lines across the data area.
type vlines struct {
	xs    []float64
	style draw.LineStyle
}

var (
	markerStyle = draw.LineStyle{Color: color.RGBA{R: 200, A: 255}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(2)}}
	faultStyle  = draw.LineStyle{Color: color.RGBA{R: 120, G: 0, B: 160, A: 255}, Width: vg.Points(1.5)}
	kneeStyle   = draw.LineStyle{Color: color.RGBA{G: 140, A: 255}, Width: vg.Points(2)}
	failedStyle = draw.LineStyle{Color: color.RGBA{R: 230, G: 120, B: 120, A: 255}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(1), vg.Points(2)}}
)

func (v vlines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, x := range v.xs {
		if x < p.X.Min || x > p.X.Max {
			continue
		}
		px := trX(x)
		c.StrokeLine2(v.style, px, c.Min.Y, px, c.Max.Y)
	}
}

// Thumbnail draws the legend entry.
func (v vlines) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

// percentileTicks labels a 1/(1-q) axis with percentiles: 0%, 90%, 99%, 99.9%...
type percentileTicks struct{}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for v := 1.0; v <= max*1.0001; v *= 10 {
		q := 100 * (1 - 1/v)
		ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(q, 'f', -1, 64) + "%"})
		if v*2 <= max && v == 1 {
			ts = append(ts, plot.Tick{Value: 2, Label: "50%"})
		}
	}
	return ts
}

// logTicks are powers of ten with 2 and 5 in between when the range is narrow.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= 0 {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	steps := []float64{1, 2, 5}
	if hi-lo > 3 {
		steps = []float64{1}
	}
	var ts []plot.Tick
	for e := lo; e <= hi; e++ {
		for _, s := range steps {
			v := s * math.Pow(10, e)
			if v < min*0.999 || v > max*1.001 {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
		}
	}
	if len(ts) < 2 {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	return ts
}

// percentileCurve returns the x (1/(1-q)) and y (ms) of a latency distribution's
// percentile curve, from the median... to the maximum, for a histogram of n values
// read by pct (microseconds at percentile p).
func percentileCurve(n int64, pct func(p float64) int64) (xs, ys []float64) {
	if n == 0 {
		return nil, nil
	}
	maxX := float64(n)
	for k := 0; ; k++ {
		x := math.Pow(10, float64(k)/20) // 20 points a decade
		if x > maxX {
			break
		}
		q := 100 * (1 - 1/x)
		xs = append(xs, x)
		ys = append(ys, usMS(pct(q)))
	}
	xs = append(xs, maxX)
	ys = append(ys, usMS(pct(100)))
	return xs, ys
}

func figID(parts ...string) string {
	var b bytes.Buffer
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		for _, r := range p {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}
