package reports

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/zkload/zkload/stats"
)

// RunInfo is run.json (optional): how the run was made.
type RunInfo struct {
	Command  []string          `json:"command"`
	Start    string            `json:"start"`
	End      string            `json:"end"`
	Settings map[string]string `json:"settings"`
	Versions map[string]string `json:"versions"`
	Ensemble string            `json:"ensemble"`
	Tests    []string          `json:"tests"`
	NodeID   string            `json:"node_id,omitempty"`
	Exit     *int              `json:"exit_code,omitempty"`
}

// Write writes run.json whole (through a temporary file), so that a reader never sees
// half of it.
func (ri *RunInfo) Write(path string) error {
	b, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Run is one run directory, loaded.
type Run struct {
	Dir   string
	Label string // --label, or the directory's name
	Info  *RunInfo
	Tests []*Test
	// Problems are what is missing or unreadable in the directory as a whole.
	Problems []string
}

// Test is one test (one label) of a run: its files, what they held, what was wrong.
type Test struct {
	Label    string
	Files    map[string][]string
	Stats    []LocustStat    // _stats.csv, final
	History  []LocustHistory // _stats_history.csv
	Failures []LocustFailure // _failures.csv
	Ext      []ExtRow        // every worker's _ext_stats_<i>.csv
	Distrib  []stats.Distribution
	Metrics  []MetricRow // _zk_metrics.csv
	Problems []string
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
	groups, err := discover(dir)
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "run.json")); err == nil {
		var info RunInfo
		if err := json.Unmarshal(b, &info); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("run.json: %v", err))
		} else {
			r.Info = &info
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		r.Problems = append(r.Problems, fmt.Sprintf("run.json: %v", err))
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
		r.Problems = append(r.Problems, "no test files found (no <label>_stats.csv, <label>_ext_stats_*.csv, <label>_ext_distrib_*.jsonl or <label>_zk_metrics.csv)")
	}
	var other []string
	for _, l := range sortedLabels(groups, prefer) {
		if len(prefer) > 0 && l != single && !slices.Contains(prefer, l) {
			other = append(other, l) // left over from another run in the same directory
			continue
		}
		r.Tests = append(r.Tests, loadTest(l, groups[l]))
	}
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

func loadTest(label string, files map[string][]string) *Test {
	t := &Test{Label: label, Files: files}
	for _, k := range []string{KindLocustStats, KindLocustHistory, KindExtDistrib, KindZKMetrics} {
		if len(files[k]) == 0 {
			t.problem("missing: %s", kindNames[k])
		}
	}
	for _, p := range files[KindLocustStats] {
		t.Stats = readLocustStats(t, p)
	}
	for _, p := range files[KindLocustHistory] {
		t.History = readLocustHistory(t, p)
	}
	for _, p := range files[KindLocustFailures] {
		t.Failures = readLocustFailures(t, p)
	}
	for _, p := range files[KindExtStats] {
		t.Ext = append(t.Ext, readExt(t, p)...)
	}
	for _, p := range files[KindExtDistrib] {
		ds, err := stats.ReadDistributions(p)
		if err != nil {
			t.problem("%s: kept %d records before: %v", filepath.Base(p), len(ds), err)
		} else if len(ds) == 0 {
			t.problem("%s: empty", filepath.Base(p))
		}
		t.Distrib = append(t.Distrib, ds...)
	}
	for _, p := range files[KindZKMetrics] {
		t.Metrics = append(t.Metrics, readMetrics(t, p)...)
	}
	return t
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
