package reports

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/stats"
)

// Run is one run directory, loaded.
type Run struct {
	Dir   string
	Label string // --label, or the directory's name
	// Info is run.json (rundir.Info), nil without one.
	Info  *rundir.RunInfo
	Tests []*Test
	// Problems are what is missing or unreadable in the directory as a whole.
	Problems []string
}

// Test is one test (one label) of a run: its files, what they held, what was wrong.
type Test struct {
	Label    string
	Files    rundir.Files
	Stats    []LocustStat    // _stats.csv, final
	History  []LocustHistory // _stats_history.csv
	Failures []LocustFailure // _failures.csv
	Ext      []ExtRow        // every worker's _ext_stats_<i>.csv
	Distrib  []stats.Distribution
	Metrics  []MetricRow  // _zk_metrics.csv, every poller's merged by time
	Faults   []FaultRow   // faults.csv: the fault dispatcher's actions
	Control  []ControlRow // control.csv: the load controller, one row a window
	Steps    []Step       // capacity.csv: a seek's levels held, by level
	// ControlResult is the load controller's outcome (nil: none ran), from
	// ControlFrom: run.json, or the test's capacity.csv or control.csv without it.
	ControlResult *rundir.ControlResult
	ControlFrom   string
	Problems      []string
}

func (t *Test) problem(format string, a ...any) {
	t.Problems = append(t.Problems, fmt.Sprintf(format, a...))
}

// Load reads a run directory. Only an unreadable directory is an error: missing,
// empty or truncated files become Problems of the run or its tests.
func Load(dir, label string) (*Run, error) {
	if label == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			abs = dir
		}
		label = filepath.Base(abs)
	}
	r := &Run{Dir: dir, Label: label}
	groups, err := rundir.Discover(dir)
	if err != nil {
		return nil, err // names the directory
	}
	if info, err := rundir.ReadRunInfo(filepath.Join(dir, rundir.Info)); err == nil {
		r.Info = info
	} else if !errors.Is(err, os.ErrNotExist) {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", rundir.Info, trimPath(err, filepath.Join(dir, rundir.Info))))
	}
	var prefer []string
	if r.Info != nil {
		prefer = r.Info.Tests
	}
	single := "" // the single-test layout's name
	if files, ok := groups[""]; ok {
		// The single-test layout: name it after run.json's one test, or "run".
		name := "run"
		if r.Info != nil && len(r.Info.Tests) > 0 {
			name = strings.Join(r.Info.Tests, "+")
		}
		single = name
		delete(groups, "")
		if other, ok := groups[name]; ok {
			for k, v := range files {
				other[k] = append(other[k], v...)
			}
		} else {
			groups[name] = files
		}
	}
	if len(groups) == 0 {
		r.Problems = append(r.Problems, noTestFiles)
	}
	var other []string
	for _, l := range sortedLabels(groups, prefer) {
		if len(prefer) > 0 && l != single && !slices.Contains(prefer, l) {
			other = append(other, l) // left over from another run in the same directory
			continue
		}
		r.Tests = append(r.Tests, loadTest(l, groups[l]))
	}
	r.attachControl()
	if len(other) > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("files of tests not in run.json left out: %s", strings.Join(other, ", ")))
	}
	if r.Info != nil {
		for _, l := range r.Info.Tests {
			if _, ok := groups[l]; !ok && single == "" {
				r.Problems = append(r.Problems, fmt.Sprintf("test %q of run.json has no files", l))
			}
		}
	}
	return r, nil
}

// noTestFiles is what a directory without any test file lacks.
const noTestFiles = "no test files found (want <label>_stats.csv, <label>_ext_stats_<i>.csv, " +
	"<label>_ext_distrib_<i>.jsonl or <label>_zk_metrics.csv, as zkload run --report-dir or scripts/suite.sh write them)"

// Usable reports whether the run holds anything to report: a row of Locust's stats or
// history, of the extended statistics or of the ensemble metrics, or a distribution.
// A directory of unrelated or garbage files holds none.
func (r *Run) Usable() bool {
	for _, t := range r.Tests {
		if len(t.Stats)+len(t.History)+len(t.Ext)+len(t.Distrib)+len(t.Metrics) > 0 {
			return true
		}
	}
	return false
}

// unusable says in one line why a run that is not Usable has nothing to report.
func (r *Run) unusable() string {
	if len(r.Tests) == 0 {
		return noTestFiles
	}
	var problems []string
	for _, t := range r.Tests {
		for _, p := range t.Problems {
			if !strings.HasPrefix(p, "missing: ") {
				problems = append(problems, t.Label+": "+p)
			}
		}
	}
	if len(problems) == 0 {
		return "no usable data in its test files"
	}
	more := ""
	if len(problems) > 1 {
		more = fmt.Sprintf("; and %d more problem(s)", len(problems)-1)
	}
	return fmt.Sprintf("no usable data in its test files (%s%s)", problems[0], more)
}

// trimPath drops "path: " from the front of err's text (rundir.ReadRunInfo names the
// file; the report's lines name it already).
func trimPath(err error, path string) string {
	return strings.TrimPrefix(err.Error(), path+": ")
}

// sortedLabels returns m's labels in the order of prefer (run.json's tests) first, then
// the others sorted.
func sortedLabels(m map[string]rundir.Files, prefer []string) []string {
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

func loadTest(label string, files rundir.Files) *Test {
	t := &Test{Label: label, Files: files}
	for _, k := range []rundir.Kind{rundir.LocustStats, rundir.LocustHistory, rundir.ExtDistrib, rundir.ZKMetrics} {
		if len(files[k]) == 0 {
			t.problem("missing: %s", rundir.Describe(k))
		}
	}
	for _, p := range files[rundir.LocustStats] {
		t.Stats = readLocustStats(t, p)
	}
	for _, p := range files[rundir.LocustHistory] {
		t.History = readLocustHistory(t, p)
	}
	for _, p := range files[rundir.LocustFailures] {
		t.Failures = readLocustFailures(t, p)
	}
	for _, p := range files[rundir.ExtStats] {
		t.Ext = append(t.Ext, readExt(t, p)...)
	}
	for _, p := range files[rundir.Faults] {
		t.Faults = append(t.Faults, readFaults(t, p)...)
	}
	for _, p := range files[rundir.Control] {
		t.Control = append(t.Control, readControl(t, p)...)
	}
	for _, p := range files[rundir.Capacity] {
		t.Steps = append(t.Steps, readSteps(t, p)...)
	}
	for _, p := range files[rundir.ExtDistrib] {
		ds, err := stats.ReadDistributions(p)
		if err != nil {
			t.problem("%s: kept %d records before: %v", filepath.Base(p), len(ds), trimPath(err, p))
		} else {
			// ReadDistributions drops an unterminated last line (a write cut short).
			if cutTail(p) {
				t.problem("%s: 1 truncated record ignored", filepath.Base(p))
			}
			if len(ds) == 0 {
				t.problem("%s: empty", filepath.Base(p))
			}
		}
		t.Distrib = append(t.Distrib, ds...)
	}
	// Each worker of a shared directory polls the ensemble and writes its own file:
	// their rows are merged into one time line (stable, so that a poll's rows keep
	// their member order), one set of ensemble figures with every poll of every poller.
	for _, p := range files[rundir.ZKMetrics] {
		t.Metrics = append(t.Metrics, readMetrics(t, p)...)
	}
	if len(files[rundir.ZKMetrics]) > 1 {
		sort.SliceStable(t.Metrics, func(i, j int) bool { return t.Metrics[i].Time.Before(t.Metrics[j].Time) })
	}
	return t
}

// cutTail reports whether the file at path ends in an unterminated line that is not
// blank: a JSON Lines record cut while being written (each record ends with "\n").
func cutTail(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false
	}
	n := min(fi.Size(), 4096)
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, fi.Size()-n); err != nil {
		return false
	}
	tail := buf[bytes.LastIndexByte(buf, '\n')+1:]
	return len(bytes.TrimSpace(tail)) > 0
}

// table is a CSV file read by column name.
type table struct {
	col  map[string]int
	rows [][]string
}

func (tb *table) get(row []string, name string) string {
	i, ok := tb.col[name]
	if !ok || i >= len(row) {
		return ""
	}
	return row[i]
}

func (tb *table) has(name string) bool { _, ok := tb.col[name]; return ok }

// readTable reads a CSV file with a header. Rows of the wrong length (a file cut while
// being written) are dropped and reported; a read error keeps the rows before it.
func readTable(t *Test, path string, required ...string) *table {
	base := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		t.problem("%s: %v", base, err)
		return nil
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			t.problem("%s: empty file", base)
		} else {
			t.problem("%s: header: %v", base, err)
		}
		return nil
	}
	tb := &table{col: make(map[string]int)}
	for i, h := range header {
		tb.col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, c := range required {
		if !tb.has(c) {
			t.problem("%s: no column %q (not the expected format, or cut in its header)", base, c)
			return nil
		}
	}
	dropped := 0
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.problem("%s: %v (rows after it ignored)", base, err)
			break
		}
		if len(row) != len(header) {
			dropped++
			continue
		}
		tb.rows = append(tb.rows, row)
	}
	if dropped > 0 {
		t.problem("%s: %d truncated row(s) ignored", base, dropped)
	}
	return tb
}

func parseTS(s string) (time.Time, bool) {
	ts, err := time.Parse(stats.TimeFormat, s)
	if err != nil {
		ts, err = time.Parse(time.RFC3339Nano, s)
	}
	return ts, err == nil
}
