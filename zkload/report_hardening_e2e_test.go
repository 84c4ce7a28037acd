package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkload/zkload/internal/testenv"
)

// TestReportNothingToReport: `zkload report` on an empty directory, one of garbage
// files, a missing one, or several such, exits 2 with one line naming each directory
// and what was wanted, and writes no report.
func TestReportNothingToReport(t *testing.T) {
	t.Parallel()
	empty, garbage := t.TempDir(), t.TempDir()
	for name, text := range map[string]string{
		"notes.txt":               "not a run\n",
		"get_stats.csv":           "\x00\x01garbage\nmore,garbage\n",
		"get_ext_distrib_1.jsonl": "{not json\n",
		"get_zk_metrics.csv":      "",
	} {
		if err := os.WriteFile(filepath.Join(garbage, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(empty, "nope")
	for _, tc := range []struct {
		dirs []string
		want string
	}{
		{[]string{empty}, "zkload report: " + empty + ": no test files found (want <label>_stats.csv, "},
		{[]string{garbage}, "zkload report: " + garbage + `: no usable data in its test files (get: get_stats.csv: no column "Type"`},
		{[]string{missing}, "zkload report: " + missing + ": no such file or directory (want a run directory"},
		{[]string{empty, garbage}, "zkload report: none of the 2 run directories holds anything to report: " + empty + ": no test files found"},
	} {
		// One directory's report goes to DIR/report by default; several dirs' to --out.
		args, outs := []string{"report"}, []string{filepath.Join(tc.dirs[0], "report")}
		if len(tc.dirs) > 1 {
			outs[0] = filepath.Join(t.TempDir(), "report")
			args = append(args, "--out", outs[0])
		}
		out := strings.TrimSpace(runZkload(t, 2, append(args, tc.dirs...)...))
		if strings.Contains(out, "\n") || !strings.HasPrefix(out, tc.want) {
			t.Errorf("zkload report %v: output %q; want one line starting %q", tc.dirs, out, tc.want)
		}
		if _, err := os.Stat(outs[0]); !os.IsNotExist(err) {
			t.Errorf("zkload report %v: %s written (%v)", tc.dirs, outs[0], err)
		}
	}
}

// TestReportLeftOutAndCutDistribution: a real run whose distribution file's last record
// was cut (a worker killed while writing), reported beside an empty directory: the
// report is written (exit 0), a warning line names the directory left out, and the cut
// record is said as the CSVs' cut rows are.
func TestReportLeftOutAndCutDistribution(t *testing.T) {
	t.Parallel()
	tg := testenv.HTTPTarget(t, testenv.TargetOptions{})
	run := filepath.Join(t.TempDir(), "run")
	runZkload(t, 0, "run", "-u", "2", "-r", "2", "-t", "2s", "-H", tg.URL, "--report-dir", run, "Http")
	path := filepath.Join(run, "ext_distrib.jsonl")
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 || b[len(b)-1] != '\n' {
		t.Fatalf("%s: %v, %d bytes, want whole records", path, err, len(b))
	}
	last := strings.LastIndexByte(string(b[:len(b)-1]), '\n')
	if err := os.WriteFile(path, b[:last+1+(len(b)-last)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	out := filepath.Join(t.TempDir(), "report")
	log := runZkload(t, 0, "report", "--out", out, run, empty)
	for _, want := range []string{
		"zkload report: warning: left out: " + empty + ": no test files found",
		"ext_distrib.jsonl: 1 truncated record ignored",
		"report: " + filepath.Join(out, "report.html"),
	} {
		if !strings.Contains(log, want) {
			t.Errorf("zkload report output lacks %q:\n%s", want, log)
		}
	}
	page := reportPage(t, out)
	for _, want := range []string{"Left out", "1 of 2 run directories left out", "ext_distrib.jsonl: 1 truncated record ignored"} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}
