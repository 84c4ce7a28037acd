// Package reports turns run directories (Locust's CSVs, zkload's extended statistics and
// distributions from every worker, ensemble metrics, run.json) into a report:
// report.html (one self-contained file, figures inline) and report.md (figures as files
// beside it). doc/report.md describes what it shows.
//
// The package is split by job: discover.go finds a run directory's files, load*.go read
// them (tolerating missing and truncated files, which become Problems), analysis.go
// derives the time series and tables, figures.go draws them with gonum.org/v1/plot, and
// render.go writes the HTML and Markdown.
package reports

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// File kinds of a test in a run directory.
const (
	KindLocustStats      = "locust_stats"
	KindLocustHistory    = "locust_history"
	KindLocustFailures   = "locust_failures"
	KindLocustExceptions = "locust_exceptions"
	KindExtStats         = "ext_stats"
	KindExtDistrib       = "ext_distrib"
	KindZKMetrics        = "zk_metrics"
	KindLog              = "log"
)

// kindNames says what each kind is, for the report's "missing" lines.
var kindNames = map[string]string{
	KindLocustStats:    "Locust stats (<label>_stats.csv)",
	KindLocustHistory:  "Locust stats history (<label>_stats_history.csv)",
	KindLocustFailures: "Locust failures (<label>_failures.csv)",
	KindExtStats:       "extended stats (<label>_ext_stats_<worker>.csv)",
	KindExtDistrib:     "distributions (<label>_ext_distrib_<worker>.jsonl)",
	KindZKMetrics:      "ensemble metrics (<label>_zk_metrics.csv)",
}

// filePatterns map a file name to its test label and kind. The label is empty for the
// single-test layout of `zkload run --report-dir` (locust_stats.csv, ext_stats.csv, ...).
var filePatterns = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`^(?:(.+)_)?ext_stats(?:_[^.]*)?\.csv$`), KindExtStats},
	{regexp.MustCompile(`^(?:(.+)_)?ext_distrib(?:_[^.]*)?\.jsonl$`), KindExtDistrib},
	{regexp.MustCompile(`^(?:(.+)_)?zk_metrics\.csv$`), KindZKMetrics},
	{regexp.MustCompile(`^(.+)_stats_history\.csv$`), KindLocustHistory},
	{regexp.MustCompile(`^(.+)_stats\.csv$`), KindLocustStats},
	{regexp.MustCompile(`^(.+)_failures\.csv$`), KindLocustFailures},
	{regexp.MustCompile(`^(.+)_exceptions\.csv$`), KindLocustExceptions},
	{regexp.MustCompile(`^(.+)\.log$`), KindLog},
}

// classify returns a file name's label and kind; ok is false for other files.
func classify(name string) (label, kind string, ok bool) {
	for _, p := range filePatterns {
		if m := p.re.FindStringSubmatch(name); m != nil {
			label = m[1]
			if label == "locust" || label == "zkload" {
				// `zkload run --report-dir` names: locust_stats.csv, zkload.log.
				label = ""
			}
			return label, p.kind, true
		}
	}
	return "", "", false
}

// discover groups the files of dir by test label. Labels are sorted; the files of each
// kind too (one per worker for the extended statistics).
func discover(dir string) (map[string]map[string][]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string][]string)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		label, kind, ok := classify(e.Name())
		if !ok {
			continue
		}
		if out[label] == nil {
			out[label] = make(map[string][]string)
		}
		out[label][kind] = append(out[label][kind], filepath.Join(dir, e.Name()))
	}
	for label, files := range out {
		if len(files) == 1 && files[KindLog] != nil {
			delete(out, label) // only a log: not a test
		}
		for _, v := range files {
			sort.Strings(v)
		}
	}
	return out, nil
}

// sortedLabels returns m's labels in order, or in the order of prefer (run.json's tests)
// first.
func sortedLabels(m map[string]map[string][]string, prefer []string) []string {
	var out []string
	seen := make(map[string]bool)
	for _, l := range prefer {
		if _, ok := m[l]; ok && !seen[l] {
			out = append(out, l)
			seen[l] = true
		}
	}
	var rest []string
	for l := range m {
		if !seen[l] {
			rest = append(rest, l)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
