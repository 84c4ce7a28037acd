// Command plot draws `make bench`'s side-by-side comparisons as one bar chart: for each
// comparison (HTTP, each ZooKeeper case), every tool's requests/s relative to the
// baseline of that comparison (wrk -t1, the bare go-zookeeper loop), the median of the
// per-round ratios, as the tables of doc/performance.md give them.
//
//	plot -in results.tsv -out doc/performance.svg
//
// results.tsv has a row per run: section, tool, round, req/s, requests, CPU seconds
// (tab-separated, as scripts/bench/bench.sh writes it).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"os"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

func main() {
	in := flag.String("in", "", "results.tsv of scripts/bench/bench.sh")
	out := flag.String("out", "performance.svg", "SVG file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintf(os.Stderr, "plot: %v\n", err)
		os.Exit(1)
	}
}

// families are the bars of each group, in order: the tool names of every comparison
// that play that part.
var families = []struct {
	name  string
	tools []string
	color color.RGBA
}{
	{"zkload", []string{"zkload Http", "zkload Get", "zkload Set"}, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
	{"baseline: wrk -t1 / bare go-zookeeper", []string{"wrk -t1", "bare go-zookeeper"}, color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}},
	{"Locust FastHttpUser / Locust + kazoo", []string{"Locust FastHttpUser", "Locust + kazoo"}, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}},
	{"Locust HttpUser", []string{"Locust HttpUser"}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
}

var baselines = map[string]bool{"wrk -t1": true, "bare go-zookeeper": true}

func run(in, out string) error {
	if in == "" {
		return errors.New("-in: want the results.tsv of scripts/bench/bench.sh")
	}
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("-in: %w", err)
	}
	defer f.Close()
	// rate[section][tool][round]
	rate := map[string]map[string]map[string]float64{}
	var sections []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) < 4 {
			return fmt.Errorf("%s:%d: want section, tool, round, req/s ... separated by tabs", in, line)
		}
		r, err := strconv.ParseFloat(fs[3], 64)
		if err != nil {
			return fmt.Errorf("%s:%d: req/s %q: %w", in, line, fs[3], err)
		}
		sec, tool, round := fs[0], fs[1], fs[2]
		if rate[sec] == nil {
			rate[sec] = map[string]map[string]float64{}
			sections = append(sections, sec)
		}
		if rate[sec][tool] == nil {
			rate[sec][tool] = map[string]float64{}
		}
		rate[sec][tool][round] = r
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("-in: %w", err)
	}
	if len(sections) == 0 {
		return fmt.Errorf("%s: no results", in)
	}

	p := plot.New()
	p.Title.Text = "requests/s relative to the baseline (median of rounds), one core each"
	p.Y.Label.Text = "× baseline"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	p.Add(plotter.NewGrid())
	w := vg.Points(9)
	for i, fam := range families {
		vals := make(plotter.Values, len(sections))
		any := false
		for j, sec := range sections {
			vals[j] = ratio(rate[sec], fam.tools)
			if vals[j] > 0 {
				any = true
			}
		}
		if !any {
			continue
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = fam.color
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-1.5) * w
		p.Add(bars)
		p.Legend.Add(fam.name, bars)
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(one)
	labels := make([]string, len(sections))
	for i, s := range sections {
		labels[i] = label(s)
	}
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = 0.5
	p.X.Tick.Label.XAlign = draw.XRight
	p.Y.Min = 0
	p.Y.Max = 1.5 // room above the baseline for the legend
	wt, err := p.WriterTo(vg.Length(90+60*len(sections))*vg.Points(1), 11*vg.Centimeter, "svg")
	if err != nil {
		return err
	}
	o, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	if _, err := wt.WriteTo(o); err != nil {
		o.Close()
		return fmt.Errorf("-out: %w", err)
	}
	return o.Close()
}

// ratio is the median over rounds of the family's tool's rate over the baseline's in
// the same round (0 when the section has no such tool, or no baseline).
func ratio(sec map[string]map[string]float64, tools []string) float64 {
	var base map[string]float64
	for t, rs := range sec {
		if baselines[t] {
			base = rs
		}
	}
	for _, t := range tools {
		rs, ok := sec[t]
		if !ok || base == nil {
			continue
		}
		var xs []float64
		for round, r := range rs {
			if b := base[round]; b > 0 {
				xs = append(xs, r/b)
			}
		}
		if len(xs) == 0 {
			return 0
		}
		sort.Float64s(xs)
		n := len(xs)
		if n%2 == 1 {
			return xs[n/2]
		}
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return 0
}

// label shortens a section name: http -> HTTP, zk-get-1024-pipelined -> "get 1 KiB pipelined".
func label(sec string) string {
	if sec == "http" {
		return "HTTP GET"
	}
	fs := strings.Split(strings.TrimPrefix(sec, "zk-"), "-")
	if len(fs) == 3 {
		size := fs[1] + " B"
		if n, err := strconv.Atoi(fs[1]); err == nil && n >= 1024 && n%1024 == 0 {
			size = strconv.Itoa(n/1024) + " KiB"
		}
		return "ZK " + fs[0] + " " + size + " " + fs[2]
	}
	return sec
}
