package reports

import (
	"html/template"
	"strings"
)

// The zkload page's own code, embedded beside the report's (reports/web/zklive.js).
var zkliveJS, zkliveCSS = mustRead(ownFS, "web/zklive.js"), mustRead(ownFS, "web/zklive.css")

// liveNote is the page's one line when this build has no chart library.
const liveNote = "Tables only: this zkload was built without the chart library; the charts need make web before the build (doc/live.md)."

var liveTmpl = template.Must(template.New("live").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zkload: the fleet, live</title><link rel="icon" href="data:,">
<style>{{.LibCSS}}
{{.ChartsCSS}}
{{.CSS}}</style></head>
<body>
<h1>zkload: the fleet, live</h1>
<p class="zk-note">Every window of every worker, merged exactly on the hub (the worker the master numbered 0): percentiles of the merged histograms, in microseconds, updated every second. JSON for scripts: <a href="./zkload/fleet.json" target="_top">/zkload/fleet.json</a>. <a href="./" target="_top">Locust</a>, <a href="./zkload" target="_top">this page on its own</a>.</p>
{{if .Note}}<p class="zk-note" id="zk-static">{{.Note}}</p>{{end}}
<p id="zk-status" data-end="0">Waiting for the hub's first fleet view (a test running with zkload workers).</p>
<p id="zk-requests" data-v="0"></p>
<p id="zk-error"></p>
<h2>Operations (last window)</h2>
<table class="zk" id="zk-ops"><thead><tr><th>method</th><th>name</th><th>req/s</th><th>fail/s</th><th>p50 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>max µs</th></tr></thead><tbody></tbody></table>
<div id="zk-charts"></div>
<h2>Workers</h2>
<table class="zk" id="zk-workers"><thead><tr><th>index</th><th>node</th><th>users</th><th>offered/s</th><th>req/s</th><th>fail/s</th></tr></thead><tbody></tbody></table>
<h2>Ensemble</h2>
<p class="zk-note" id="zk-members-none">No member polled: the workers poll the ensemble with --zk-metrics-collect (or --report-dir with --hosts).</p>
<table class="zk" id="zk-members"><thead><tr><th>member</th><th>role</th><th>outstanding</th><th>connections</th><th>avg latency ms</th><th>max latency ms</th><th>znodes</th><th>watches</th></tr></thead><tbody></tbody></table>
<h2>Load control</h2>
<p id="zk-decision"></p>
<h2>Faults</h2>
<p class="zk-note" id="zk-faults-none">No fault action in this test.</p>
<table class="zk" id="zk-faults"><thead><tr></tr></thead><tbody></tbody></table>
{{if .LibJS}}<script>{{.LibJS}}</script>{{end}}
<script>{{.ChartsJS}}</script>
<script>{{.JS}}
zklive.start();</script>
</body></html>
`))

// LivePage returns the zkload page of a Locust master's web UI, which the generated
// locustfile serves at /zkload: one HTML document with everything inside (uPlot when
// this build has it, zkcharts.js, the page's own code and styles), so that it works on
// a network without the internet. It reads the master's /zkload/fleet.json.
func LivePage() string { return livePage(embeddedLib) }

// livePage is the page with lib as its chart library (nil: tables only, and a note).
func livePage(lib *webLib) string {
	d := struct {
		LibJS                  template.JS
		LibCSS, ChartsCSS, CSS template.CSS
		ChartsJS, JS           template.JS
		Note                   string
	}{ChartsCSS: template.CSS(zkchartsCSS), CSS: template.CSS(zkliveCSS), ChartsJS: template.JS(zkchartsJS), JS: template.JS(zkliveJS)}
	if lib != nil {
		d.LibJS, d.LibCSS = template.JS(lib.JS), template.CSS(lib.CSS)
	} else {
		d.Note = liveNote
	}
	var b strings.Builder
	if err := liveTmpl.Execute(&b, d); err != nil {
		panic(err) // a constant template on embedded text: cannot happen
	}
	return b.String()
}
