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
	return []string{d.Test, name, op, d.Run,
		pair(d.Base.RPS, d.This.RPS), pair(d.Base.P50, d.This.P50), pair(d.Base.P99, d.This.P99),
		pair(d.Base.P999, d.This.P999), pair(d.Base.Max, d.This.Max),
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
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:90%}
td,th{border:1px solid #bbb;padding:2px 6px;text-align:right}
td:first-child,th:first-child,td.l{text-align:left}
th{background:#eee}
img{width:100%;max-width:900px;display:block;margin:.5em 0}
.note{color:#666;font-style:italic}
.problem{color:#a00}
h2{border-bottom:2px solid #ccc;page-break-before:auto}
section{page-break-inside:avoid}
</style></head><body>
<h1>{{.Title}}</h1>
<p class="note">Made {{.Made}}. Times in ms with µs precision, from the HDR distributions merged across workers; a * marks Locust's ms buckets (no distributions).</p>
{{if .Verdicts}}<h2 id="verdicts">Verdicts</h2><ul>{{range .Verdicts}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Problems}}<h2 id="left-out">Left out</h2><ul>{{range .Problems}}<li class="problem">{{.}}</li>{{end}}</ul>{{end}}
{{range .Runs}}
<h2 id="run-{{.Label}}">Run {{.Label}}</h2>
<table>{{range .Front}}<tr><th>{{index . 0}}</th><td class="l">{{index . 1}}</td></tr>{{end}}</table>
<h3>Summary</h3>
{{if .Summary}}<table><tr>{{range $.SummaryHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Summary}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{else}}<p class="problem">No statistics to summarize.</p>{{end}}
{{if .Values}}<h3>Values</h3><p class="note">{{$.ValuesNote}}</p><table><tr>{{range $.ValueHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Values}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{if .Problems}}<h3 id="problems-{{.Label}}">Problems</h3><ul>{{range .Problems}}<li class="problem">{{.}}</li>{{end}}</ul>{{end}}
{{range .Sections}}<section><h3>{{.Title}}</h3>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Figures}}<img alt="{{.Title}}" src="{{.Src}}">{{end}}
</section>{{end}}
{{end}}
{{with .Compare}}
<h2 id="comparison">Comparison (against {{.Base}})</h2>
<table><tr>{{range $.DiffHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
{{range .Sections}}<section><h3>{{.Title}}</h3>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Figures}}<img alt="{{.Title}}" src="{{.Src}}">{{end}}
</section>{{end}}
{{end}}
</body></html>
`

var htmlTmpl = template.Must(template.New("report").Parse(htmlTemplate))

type figView struct {
	Title string
	Src   template.URL
}

type sectionView struct {
	Title   string
	Notes   []string
	Figures []figView
}

func sectionViews(ss []Section, inline bool) []sectionView {
	var out []sectionView
	for _, s := range ss {
		v := sectionView{Title: s.Title, Notes: s.Notes}
		for _, f := range s.Figures {
			src := "figures/" + f.ID + ".svg"
			if inline {
				src = "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(f.SVG)
			}
			v.Figures = append(v.Figures, figView{Title: f.Title, Src: template.URL(src)})
		}
		out = append(out, v)
	}
	return out
}

type runView struct {
	Label    string
	Front    [][2]string
	Summary  [][]string
	Values   [][]string
	Problems []string
	Sections []sectionView
}

type compareView struct {
	Base     string
	Rows     [][]string
	Sections []sectionView
}

func (rep *Report) view(inline bool) map[string]any {
	var runs []runView
	for _, rr := range rep.Runs {
		v := runView{Label: rr.Run.Label, Front: rr.frontRows(), Problems: rr.problems(), Sections: sectionViews(rr.Sections, inline)}
		for _, r := range rr.Summary {
			v.Summary = append(v.Summary, summaryCells(r))
		}
		for _, r := range rr.Values {
			v.Values = append(v.Values, valueCells(r))
		}
		runs = append(runs, v)
	}
	var cmp *compareView
	if rep.Compare != nil {
		cmp = &compareView{Base: rep.Compare.Base, Sections: sectionViews(rep.Compare.Sections, inline)}
		for _, d := range rep.Compare.Rows {
			cmp.Rows = append(cmp.Rows, diffCells(d))
		}
	}
	return map[string]any{
		"Title": rep.Title, "Made": rep.Made.Format(time.RFC3339), "Verdicts": rep.Verdicts, "Problems": rep.Problems,
		"Runs": runs, "Compare": cmp, "SummaryHeader": summaryHeader, "DiffHeader": diffHeader,
		"ValueHeader": valueHeader, "ValuesNote": valuesNote,
	}
}

// HTML renders report.html: one file, every figure inline (SVG in data: URLs).
func (rep *Report) HTML() ([]byte, error) {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, rep.view(true)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Markdown renders report.md, its figures in figures/.
func (rep *Report) Markdown() []byte {
	v := rep.view(false)
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\nMade %s. Times in ms with µs precision, from the HDR distributions merged across workers; a * marks Locust's ms buckets (no distributions).\n\n", rep.Title, v["Made"])
	mdList(&b, "## Verdicts", rep.Verdicts)
	mdList(&b, "## Left out", rep.Problems)
	for _, r := range v["Runs"].([]runView) {
		fmt.Fprintf(&b, "## Run %s\n\n", mdEscape(r.Label))
		mdTable(&b, []string{"", ""}, toRows(r.Front))
		b.WriteString("### Summary\n\n")
		if len(r.Summary) > 0 {
			mdTable(&b, summaryHeader, r.Summary)
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
