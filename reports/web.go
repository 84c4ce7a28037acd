package reports

import (
	"embed"
	"io/fs"
)

// The chart library (npm uplot, copied into web/dist by `make web`; never committed)
// and the report's own chart code (web/zkcharts.js, zkcharts.css), embedded into the
// binary. web/dist always holds its README, so the embed builds without the library.
var (
	//go:embed web/dist
	distFS embed.FS
	//go:embed web/zkcharts.js web/zkcharts.css web/zklive.js web/zklive.css
	ownFS embed.FS
)

// webLib is the chart library report.html needs for interactive charts.
type webLib struct {
	JS, CSS []byte // uPlot
}

// loadWebLib returns the embedded chart library, or nil when this build has none
// (`go build` without `make web`): report.html then falls back to static SVG figures.
func loadWebLib(dist fs.FS) *webLib {
	js, err := fs.ReadFile(dist, "web/dist/uPlot.iife.min.js")
	if err != nil || len(js) == 0 {
		return nil
	}
	css, err := fs.ReadFile(dist, "web/dist/uPlot.min.css")
	if err != nil {
		return nil
	}
	return &webLib{JS: js, CSS: css}
}

// embeddedLib is this build's library, nil without one.
var embeddedLib = loadWebLib(distFS)

// zkchartsJS and zkchartsCSS are the report's own chart code (always embedded): the
// charts on the library, and the page's navigation, which works without it.
var zkchartsJS, zkchartsCSS = mustRead(ownFS, "web/zkcharts.js"), mustRead(ownFS, "web/zkcharts.css")

func mustRead(fsys fs.FS, name string) []byte {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return b
}

// staticNote is what report.html says when it has static figures only.
const staticNote = "Static figures: this zkload was built without the chart library; interactive charts (zoom, hover, toggles) need make web before the build (doc/report.md)."
