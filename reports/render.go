package reports

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"

	"github.com/zkload/zkload/record"
)

// summaryHeader is the summary table's columns (times in ms, µs precision).
var summaryHeader = []string{"test", "task set", "op", "requests", "failures", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"}

func summaryCells(r SummaryRow) []string {
	name, op := r.Key.Name, r.Key.Method
	if r.Key.IsTotal() {
		name, op = "Total", ""
	}
	cells := []string{r.Test, name, op, fmt.Sprint(r.Requests), fmt.Sprint(r.Failures), fmt.Sprintf("%.1f", r.RPS)}
	for _, v := range []float64{r.P50, r.P90, r.P99, r.P999, r.Max} {
		if r.Exact || math.IsNaN(v) {
			cells = append(cells, fmtMS(v))
		} else {
			cells = append(cells, fmt.Sprintf("%g", v)+"*")
		}
	}
	return cells
}

// valueHeader is the values table's columns: series that are not requests (an open
// loop's schedule lag: the starts taken late, and how late).
var valueHeader = []string{"test", "task set", "value", "count", "per s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"}

func valueCells(r SummaryRow) []string {
	cells := []string{r.Test, r.Key.Name, strings.TrimPrefix(r.Key.Method, record.ValuePrefix), fmt.Sprint(r.Requests), fmt.Sprintf("%.1f", r.RPS)}
	for _, v := range []float64{r.P50, r.P90, r.P99, r.P999, r.Max} {
		cells = append(cells, fmtMS(v))
	}
	return cells
}

// valuesNote says what the values table holds.
const valuesNote = "Not requests, in no count or rate above: schedule_lag is an open loop's starts taken more than 1 ms after their planned time (every user busy), and how late; success_gap:OP is a user's time without a success of OP, when longer than 100 ms; session_lost is a user's session that expired, and its age."

var diffHeader = []string{"test", "task set", "op", "run", "req/s", "p50", "p99", "p99.9", "max", "failures"}

func diffCells(d DiffRow) []string {
	name, op := d.Key.Name, d.Key.Method
	if d.Key.IsTotal() {
		name, op = "Total", ""
	}
	pair := func(b, t float64) string {
		return fmt.Sprintf("%s → %s (%s)", fmtNum(b), fmtNum(t), pct(Change(b, t)))
	}
	lower := func(b, t float64) string {
		c := Change(b, t)
		if d := direction(c, false); d != "" {
			return fmt.Sprintf("%s → %s (%s, %s)", fmtNum(b), fmtNum(t), pct(c), d)
		}
		return pair(b, t)
	}
	rate := pair(d.Base.RPS, d.This.RPS)
	if dir := direction(Change(d.Base.RPS, d.This.RPS), true); dir != "" {
		rate = fmt.Sprintf("%s → %s (%s, %s)", fmtNum(d.Base.RPS), fmtNum(d.This.RPS), pct(Change(d.Base.RPS, d.This.RPS)), dir)
	}
	return []string{d.Test, name, op, d.Run,
		rate, lower(d.Base.P50, d.This.P50), lower(d.Base.P99, d.This.P99),
		lower(d.Base.P999, d.This.P999), lower(d.Base.Max, d.This.Max),
		fmt.Sprintf("%d → %d", d.Base.Failures, d.This.Failures)}
}

func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func pct(c float64) string {
	if math.IsNaN(c) {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", 100*c)
}

// frontRows are a run's key facts for the front page.
func (rr *RunReport) frontRows() [][2]string {
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("directory", rr.Run.Dir)
	if !rr.Start.IsZero() {
		add("start", rr.Start.UTC().Format(time.RFC3339))
		add("end", rr.End.UTC().Format(time.RFC3339))
		add("duration", rr.End.Sub(rr.Start).Round(time.Millisecond).String())
	}
	var tests []string
	for _, t := range rr.Run.Tests {
		tests = append(tests, t.Label)
	}
	add("tests", strings.Join(tests, ", "))
	if info := rr.Run.Info; info != nil {
		add("ensemble", info.Ensemble)
		add("command", strings.Join(info.Command, " "))
		if info.Exit != nil {
			add("exit code", fmt.Sprint(*info.Exit))
		}
		for _, k := range []string{"zkload", "go", "locust", "zookeeper"} {
			add(k+" version", info.Versions[k])
		}
		for _, kv := range rr.settings() {
			add("setting "+kv[0], kv[1])
		}
	} else {
		add("run.json", "absent: settings and versions unknown")
	}
	if members := rr.members(); members != "" {
		add("ensemble members", members)
	}
	return out
}

func (rr *RunReport) members() string {
	seen := map[string]string{}
	var order []string
	for _, a := range rr.Analyses {
		for _, m := range a.Members {
			if _, ok := seen[m.HostPort]; !ok {
				order = append(order, m.HostPort)
			}
			if n := len(m.States); n > 0 && m.States[n-1].State != "error" {
				seen[m.HostPort] = m.States[n-1].State
			}
		}
	}
	var parts []string
	for _, h := range order {
		if seen[h] != "" {
			parts = append(parts, h+" ("+seen[h]+")")
		} else {
			parts = append(parts, h)
		}
	}
	return strings.Join(parts, ", ")
}

const htmlTemplate = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title>
{{with .LibCSS}}<style>{{.}}</style>{{end}}
<style>{{.OwnCSS}}</style>
<style>
body{font-family:sans-serif;margin:0;color:#222}
nav#toc{position:fixed;top:0;left:0;bottom:0;width:210px;overflow-y:auto;background:#f4f5f7;border-right:1px solid #ddd;padding:.8em .6em;font-size:14px;box-sizing:border-box}
nav#toc a{display:block;color:#1a4d8f;text-decoration:none;padding:2px 0}
nav#toc a.sub{padding-left:1em;font-size:13px}
nav#toc a:hover{text-decoration:underline}
nav#toc .brand{font-weight:bold;margin-bottom:.5em}
main{margin-left:210px;padding:0 1.5em 3em;max-width:1150px}
table{border-collapse:collapse;margin:.5em 0;font-size:90%}
td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}
tr.knee td{font-weight:bold;background:#e6f4e3}
td:first-child,th:first-child,td.l{text-align:left}
th{background:#eee}
img{width:100%;max-width:1000px;display:block;margin:.5em 0}
svg.side{max-width:100%;height:auto;display:block;margin:.5em 0}
svg.side a:hover rect{fill:#e3ecf7}
.note{color:#666;font-style:italic}
.problem{color:#a00}
h2{border-bottom:2px solid #ccc}
details.test,details.cmp{border:1px solid #ccc;border-radius:4px;margin:.6em 0;padding:0 .8em}
details>summary{cursor:pointer;padding:.5em 0;font-size:110%}
details[open]>summary{border-bottom:1px solid #ddd;margin-bottom:.5em}
table.front{columns:2}
table.front th{text-align:left;font-weight:normal;color:#555}
@media print{nav#toc{display:none}main{margin-left:0}}
</style></head><body>
<nav id="toc"><div class="brand">{{.Title}}</div>
<a href="#overview">Overview</a>
{{if .Verdicts}}<a class="sub" href="#verdicts">Verdicts</a>{{end}}
{{if .Compare}}<a class="sub" href="#differences">Differences</a>{{end}}
{{if .Control}}<a class="sub" href="#load-control">Load control</a>{{end}}
<a class="sub" href="#side">Tests side by side</a>
{{if .Ensemble}}<a class="sub" href="#ensemble">Ensemble health</a>{{end}}
{{if .Failover}}<a class="sub" href="#failover">Faults and failover</a>{{end}}
{{range .Runs}}<a href="#run-{{.ID}}">Run {{.Label}}</a>{{range .Tests}}<a class="sub" href="#{{.ID}}">{{.Label}}</a>{{end}}{{end}}
{{if .Compare}}<a href="#comparison">Comparison</a>{{end}}
</nav>
<main>
<h1>{{.Title}}</h1>
<p class="note">Made {{.Made}}. Times in ms with µs precision, from the HDR distributions merged across workers; a * marks Locust's ms buckets (no distributions). {{if .Static}}{{.StaticNote}}{{else}}Charts: drag to zoom (a test's time axes zoom together), double-click to reset, hover for values, click a legend entry to hide or show its line.{{end}}</p>
<section id="overview"><h2>Overview</h2>
{{if .Verdicts}}<h3 id="verdicts">Verdicts</h3><ul>{{range .Verdicts}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Problems}}<h3 id="left-out">Left out</h3><ul>{{range .Problems}}<li class="problem">{{.}}</li>{{end}}</ul>{{end}}
{{with .Compare}}<h3 id="differences">Differences (against {{.Base}})</h3><ul>{{range .Changes}}<li>{{.}}</li>{{end}}</ul>
<table><tr>{{range $.DiffHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{if .Control}}<h3 id="load-control">Load control</h3>
<table><tr>{{range $.ControlHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Control}}<tr><td><a href="{{.Href}}">{{.Test}}</a></td><td>{{.Mode}}</td><td class="l">{{.Spec}}</td><td>{{.Capacity}}</td><td>{{.Bracket}}</td><td>{{.Achieved}}</td><td>{{.Steps}}</td>{{if $.Compare}}<td>{{.Change}}</td>{{end}}<td class="l">{{.End}}</td></tr>{{end}}</table>{{end}}
<h3 id="side">Tests side by side</h3>
<p class="note">Each row links to its test; hover a row for its values.</p>
{{.Side}}
{{range .Runs}}
<h3 id="run-{{.ID}}">Run {{.Label}}</h3>
<table class="front">{{range .Front}}<tr><th>{{index . 0}}</th><td class="l">{{index . 1}}</td></tr>{{end}}</table>
{{if .Summary}}<table><tr>{{range $.SummaryHeader}}<th>{{.}}</th>{{end}}<th></th></tr>
{{range .Summary}}<tr>{{range .Cells}}<td>{{.}}</td>{{end}}<td><a href="{{.Href}}">details</a></td></tr>{{end}}</table>{{else}}<p class="problem">No statistics to summarize.</p>{{end}}
{{if .Values}}<h4>Values</h4><p class="note">{{$.ValuesNote}}</p><table><tr>{{range $.ValueHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Values}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{if .Problems}}<h4 id="problems-{{.ID}}">Problems</h4><ul>{{range .Problems}}<li class="problem">{{.}}</li>{{end}}</ul>{{end}}
{{end}}
{{if .Ensemble}}<h3 id="ensemble">Ensemble health</h3>
<table><tr><th>test</th><th>members</th><th>state at the end</th><th>leader moves</th><th>failed polls</th><th>max outstanding</th><th>max read latency ms</th></tr>
{{range .Ensemble}}<tr><td><a href="{{.Href}}">{{.Test}}</a></td><td>{{.Members}}</td><td class="l">{{.States}}</td><td>{{.LeaderMoves}}</td><td>{{.FailedPolls}}</td><td>{{.MaxOutstanding}}</td><td>{{.MaxLatency}}</td></tr>{{end}}</table>{{end}}
{{if .Failover}}<h3 id="failover">Faults and failover</h3>
<table><tr><th>test</th><th>time</th><th>action</th><th>member</th><th>election</th><th>first success</th><th>dip</th><th>back to 90 %</th><th>p99 ms before / during / after</th><th>sessions lost</th></tr>
{{range .Failover}}<tr><td><a href="{{.Href}}">{{.Test}}</a></td><td>{{.Time}}</td><td>{{.Action}}</td><td class="l">{{.Member}}</td><td>{{.Election}}</td><td>{{.FirstSuccess}}</td><td>{{.Dip}}</td><td>{{.Recovery}}</td><td>{{.P99}}</td><td>{{.SessionsLost}}</td></tr>{{end}}</table>{{end}}
</section>
{{range .Runs}}{{$run := .}}
<h2>Tests{{if $.Several}} of run {{.Label}}{{end}}</h2>
{{range .Tests}}<details class="zk-group test" id="{{.ID}}"><summary><b>{{.Label}}</b> <span class="note">{{.Line}}</span></summary>
{{if .Data}}<script type="application/json" class="zk-data">{{.Data}}</script>{{end}}
{{if .Summary}}<table><tr>{{range $.SummaryHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Summary}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{if .Problems}}<ul>{{range .Problems}}<li class="problem">{{.}}</li>{{end}}</ul>{{end}}
{{template "sections" .Sections}}
</details>{{end}}
{{end}}
{{with .Compare}}
<h2 id="comparison">Comparison (against {{.Base}})</h2>
<details class="zk-group cmp" id="comparison-figures"><summary><b>Every figure, overlaid</b> <span class="note">seconds from each run's start</span></summary>
{{if .Data}}<script type="application/json" class="zk-data">{{.Data}}</script>{{end}}
{{template "sections" .Sections}}
</details>
{{end}}
</main>
<script>{{.OwnJS}}</script>
{{with .LibJS}}<script>{{.}}</script>{{end}}
<script>zkcharts.report(document);</script>
</body></html>
{{define "sections"}}{{range .}}<section><h3>{{.Title}}</h3>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{if .TableRows}}<table><tr>{{range .Table.Header}}<th>{{.}}</th>{{end}}</tr>
{{range .TableRows}}<tr{{if .Strong}} class="knee"{{end}}>{{range .Cells}}<td class="l">{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{range .Figures}}{{if .Src}}<img alt="{{.Title}}" src="{{.Src}}">{{else}}<div data-chart="{{.ID}}" title="{{.Title}}"></div>{{end}}{{end}}
</section>{{end}}{{end}}
`

var htmlTmpl = template.Must(template.New("report").Parse(htmlTemplate))

type figView struct {
	ID, Title string
	Src       template.URL // empty: an interactive chart
}

type sectionView struct {
	Title     string
	Notes     []string
	Table     *Table
	TableRows []tableRowView
	Figures   []figView
}

type tableRowView struct {
	Cells  []string
	Strong bool
}

// figMode is how a figure is shown: an interactive chart, an inline SVG (report.html
// without the chart library), a file (report.md).
type figMode int

const (
	figChart figMode = iota
	figInline
	figFile
)

func sectionViews(ss []Section, mode figMode) []sectionView {
	var out []sectionView
	for _, s := range ss {
		v := sectionView{Title: s.Title, Notes: s.Notes, Table: s.Table}
		if s.Table != nil {
			for i, r := range s.Table.Rows {
				v.TableRows = append(v.TableRows, tableRowView{Cells: r, Strong: i < len(s.Table.Strong) && s.Table.Strong[i]})
			}
		}
		for _, f := range s.Figures {
			fv := figView{ID: f.ID, Title: f.Title}
			switch mode {
			case figFile:
				fv.Src = template.URL("figures/" + f.ID + ".svg")
			case figInline:
				fv.Src = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(f.SVG))
			}
			v.Figures = append(v.Figures, fv)
		}
		out = append(out, v)
	}
	return out
}

type summaryView struct {
	Cells []string
	Href  string
}

type testView struct {
	ID, Label, Line string
	Summary         [][]string
	Problems        []string
	Sections        []sectionView
	Data            template.JS
}

type runView struct {
	ID, Label string
	Front     [][2]string
	Summary   []summaryView
	Values    [][]string
	Problems  []string
	Sections  []sectionView
	Tests     []testView
}

type compareView struct {
	Base     string
	Changes  []string
	Rows     [][]string
	Sections []sectionView
	Data     template.JS
}

// testLine is a test's one-line summary beside its name: its Total's numbers.
func testLine(a *Analysis) string {
	for _, r := range a.Summary {
		if r.Key.IsTotal() {
			line := fmt.Sprintf("%d requests, %.1f/s, p50 %s ms, p99 %s ms, p99.9 %s ms", r.Requests, r.RPS, fmtMS(r.P50), fmtMS(r.P99), fmtMS(r.P999))
			if r.Failures > 0 {
				line += fmt.Sprintf(", %d failures", r.Failures)
			}
			return line
		}
	}
	return "no statistics"
}

func (rep *Report) view(mode figMode) map[string]any {
	var runs []runView
	var figs []*Figure
	for _, rr := range rep.Runs {
		v := runView{ID: figID(rr.Prefix, rr.Run.Label), Label: rr.Run.Label, Front: rr.frontRows(), Problems: rr.problems(), Sections: sectionViews(rr.Sections, mode)}
		if v.ID == "" {
			v.ID = "run"
		}
		for _, r := range rr.Summary {
			v.Summary = append(v.Summary, summaryView{Cells: summaryCells(r), Href: "#" + testID(rr.Prefix, r.Test)})
		}
		for _, r := range rr.Values {
			v.Values = append(v.Values, valueCells(r))
		}
		for _, p := range rr.Parts {
			a := p.Analysis
			tv := testView{ID: testID(rr.Prefix, a.Test.Label), Label: a.Test.Label, Line: testLine(a), Sections: sectionViews(p.Sections, mode)}
			for _, r := range a.Summary {
				tv.Summary = append(tv.Summary, summaryCells(r))
			}
			for _, pr := range a.Test.Problems {
				tv.Problems = append(tv.Problems, a.Test.Label+": "+pr)
			}
			if mode == figChart {
				figs = figs[:0]
				for _, s := range p.Sections {
					figs = append(figs, s.Figures...)
				}
				tv.Data = template.JS(chartData(figs))
			}
			v.Tests = append(v.Tests, tv)
		}
		runs = append(runs, v)
	}
	var cmp *compareView
	if rep.Compare != nil {
		cmp = &compareView{Base: rep.Compare.Base, Changes: rep.Compare.changes(), Sections: sectionViews(rep.Compare.Sections, mode)}
		for _, d := range rep.Compare.Rows {
			cmp.Rows = append(cmp.Rows, diffCells(d))
		}
		if mode == figChart {
			figs = figs[:0]
			for _, s := range rep.Compare.Sections {
				figs = append(figs, s.Figures...)
			}
			cmp.Data = template.JS(chartData(figs))
		}
	}
	v := map[string]any{
		"Title": rep.Title, "Made": rep.Made.Format(time.RFC3339), "Verdicts": rep.Verdicts, "Problems": rep.Problems,
		"Runs": runs, "Compare": cmp, "SummaryHeader": summaryHeader, "DiffHeader": diffHeader,
		"ValueHeader": valueHeader, "ValuesNote": valuesNote, "Several": len(rep.Runs) > 1,
		"Side": template.HTML(sideBySideSVG(rep.sideRows())), "Ensemble": rep.ensembleRows(), "Failover": rep.failoverRows(),
		"Control": rep.controlRows(), "ControlHeader": rep.controlHeader(),
		"Static": mode != figChart, "StaticNote": staticNote,
		"OwnJS": template.JS(zkchartsJS), "OwnCSS": template.CSS(zkchartsCSS),
	}
	if mode == figChart && rep.lib != nil {
		v["LibJS"], v["LibCSS"] = template.JS(rep.lib.JS), template.CSS(rep.lib.CSS)
	}
	return v
}

// HTML renders report.html: one file, self-contained. With the chart library, the
// figures are interactive charts drawn from data in the page; without, inline SVGs.
func (rep *Report) HTML() ([]byte, error) {
	mode := figChart
	if rep.lib == nil {
		mode = figInline
	}
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, rep.view(mode)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// overviewFigure is the side-by-side figure's file in figures/ (report.md).
const overviewFigure = "overview.svg"

// Markdown renders report.md, its figures in figures/.
func (rep *Report) Markdown() []byte {
	v := rep.view(figFile)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nMade %s. Times in ms with µs precision, from the HDR distributions merged across workers; a * marks Locust's ms buckets (no distributions).\n\n", rep.Title, v["Made"])
	mdList(&b, "## Verdicts", rep.Verdicts)
	mdList(&b, "## Left out", rep.Problems)
	if c, _ := v["Compare"].(*compareView); c != nil {
		mdList(&b, fmt.Sprintf("## Differences (against %s)", mdEscape(c.Base)), c.Changes)
	}
	if cs := rep.controlRows(); len(cs) > 0 {
		b.WriteString("## Load control\n\n")
		var rows [][]string
		for _, c := range cs {
			row := []string{c.Test, c.Mode, c.Spec, c.Capacity, c.Bracket, c.Achieved, c.Steps}
			if rep.Compare != nil {
				row = append(row, c.Change)
			}
			rows = append(rows, append(row, c.End))
		}
		mdTable(&b, rep.controlHeader(), rows)
	}
	b.WriteString("## Tests side by side\n\n![Tests side by side](figures/" + overviewFigure + ")\n\n")
	if es := rep.ensembleRows(); len(es) > 0 {
		b.WriteString("## Ensemble health\n\n")
		var rows [][]string
		for _, e := range es {
			rows = append(rows, []string{e.Test, e.Members, e.States, fmt.Sprint(e.LeaderMoves), fmt.Sprint(e.FailedPolls), e.MaxOutstanding, e.MaxLatency})
		}
		mdTable(&b, []string{"test", "members", "state at the end", "leader moves", "failed polls", "max outstanding", "max read latency ms"}, rows)
	}
	if fs := rep.failoverRows(); len(fs) > 0 {
		b.WriteString("## Faults and failover\n\n")
		var rows [][]string
		for _, f := range fs {
			rows = append(rows, []string{f.Test, f.Time, f.Action, f.Member, f.Election, f.FirstSuccess, f.Dip, f.Recovery, f.P99, f.SessionsLost})
		}
		mdTable(&b, []string{"test", "time", "action", "member", "election", "first success", "dip", "back to 90 %", "p99 ms before / during / after", "sessions lost"}, rows)
	}
	for _, r := range v["Runs"].([]runView) {
		fmt.Fprintf(&b, "## Run %s\n\n", mdEscape(r.Label))
		mdTable(&b, []string{"", ""}, toRows(r.Front))
		b.WriteString("### Summary\n\n")
		if len(r.Summary) > 0 {
			var rows [][]string
			for _, sv := range r.Summary {
				rows = append(rows, sv.Cells)
			}
			mdTable(&b, summaryHeader, rows)
		} else {
			b.WriteString("No statistics to summarize.\n\n")
		}
		if len(r.Values) > 0 {
			fmt.Fprintf(&b, "### Values\n\n*%s*\n\n", mdEscape(valuesNote))
			mdTable(&b, valueHeader, r.Values)
		}
		mdList(&b, "### Problems", r.Problems)
		mdSections(&b, r.Sections)
	}
	if c, _ := v["Compare"].(*compareView); c != nil {
		fmt.Fprintf(&b, "## Comparison (against %s)\n\n", mdEscape(c.Base))
		mdTable(&b, diffHeader, c.Rows)
		mdSections(&b, c.Sections)
	}
	return []byte(b.String())
}

func toRows(kv [][2]string) [][]string {
	var out [][]string
	for _, p := range kv {
		out = append(out, []string{p[0], p[1]})
	}
	return out
}

func mdSections(b *strings.Builder, ss []sectionView) {
	for _, s := range ss {
		fmt.Fprintf(b, "### %s\n\n", mdEscape(s.Title))
		for _, n := range s.Notes {
			fmt.Fprintf(b, "*%s*\n\n", mdEscape(n))
		}
		if s.Table != nil {
			mdTable(b, s.Table.Header, s.Table.Rows) // the rows say which is stressed
		}
		for _, f := range s.Figures {
			fmt.Fprintf(b, "![%s](%s)\n\n", mdEscape(f.Title), f.Src)
		}
	}
}

func mdTable(b *strings.Builder, header []string, rows [][]string) {
	cell := func(s string) string { return strings.ReplaceAll(mdEscape(s), "|", `\|`) }
	b.WriteString("|")
	for _, h := range header {
		b.WriteString(" " + cell(h) + " |")
	}
	b.WriteString("\n|")
	for range header {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func mdEscape(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "*", `\*`, "_", `\_`, "<", "&lt;", "[", `\[`, "]", `\]`).Replace(s)
}

// mdList writes a heading and its items as a Markdown list, or nothing without items.
func mdList(b *strings.Builder, heading string, items []string) {
	if len(items) == 0 {
		return
	}
	b.WriteString(heading + "\n\n")
	for _, s := range items {
		fmt.Fprintf(b, "- %s\n", mdEscape(s))
	}
	b.WriteString("\n")
}
