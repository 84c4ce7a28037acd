package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv"
)

// progressRx is a progress line of scripts/suite.sh: while running ("1s of 2s"), at the
// end of the run time ("run time over, finishing"), ended on time ("done") or early
// ("stopped after 1s of 2s").
var progressRx = regexp.MustCompile(`^   \[([^\]]+)\] (?:(\d+)s of (\d+)s|run time over, finishing|done|stopped after (\d+)s of (\d+)s): ` +
	`(?:no statistics yet|(\d+) requests, (\d+) failed, ([0-9.]+) req/s)$`)

// checkProgress checks the progress lines of each label: a line while the test runs
// and one at its end, a rate above 0 on every line that counts requests, and never
// "Ns of Ms" with N past M.
func checkProgress(t *testing.T, log string, labels ...string) {
	t.Helper()
	running, counted := map[string]int{}, map[string]int{}
	for _, l := range strings.Split(log, "\n") {
		if !strings.HasPrefix(l, "   [") {
			continue
		}
		m := progressRx.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("progress line %q: not of the expected form", l)
			continue
		}
		for _, nm := range [][2]string{{m[2], m[3]}, {m[4], m[5]}} {
			if nm[0] == "" {
				continue
			}
			n, _ := strconv.Atoi(nm[0])
			if mx, _ := strconv.Atoi(nm[1]); n > mx {
				t.Errorf("progress line %q: %ds past the run time of %ds", l, n, mx)
			}
			running[m[1]]++
		}
		if m[6] == "" {
			continue
		}
		requests, _ := strconv.ParseInt(m[6], 10, 64)
		rate, _ := strconv.ParseFloat(m[8], 64)
		if requests > 0 && rate <= 0 {
			t.Errorf("progress line %q: requests flow at a rate of %s", l, m[8])
		}
		if requests > 0 {
			counted[m[1]]++
		}
	}
	for _, label := range labels {
		if running[label] == 0 || counted[label] == 0 {
			t.Errorf("[%s]: %d line(s) while running, %d counting requests; want one or more of each:\n%s",
				label, running[label], counted[label], log)
		}
	}
}

// checkSummaryAligned checks that the summary table's columns line up under its header
// for every label, the longest included: each right-aligned column ends where its
// header ends.
func checkSummaryAligned(t *testing.T, log string, labels ...string) {
	t.Helper()
	var header string
	rows := map[string]string{}
	for _, l := range strings.Split(log, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 1 && f[0] == "test" && f[1] == "requests":
			header = l
		case len(f) == 7 && header != "":
			rows[f[0]] = l
		}
	}
	if header == "" {
		t.Fatalf("no summary table:\n%s", log)
	}
	ends := func(s string) []int { // where each field ends
		var out []int
		for _, loc := range regexp.MustCompile(`\S+`).FindAllStringIndex(s, -1) {
			out = append(out, loc[1])
		}
		return out
	}
	h := ends(strings.NewReplacer("p50 ms", "p50_ms", "p99 ms", "p99_ms", "max ms", "max_ms").Replace(header))
	for _, label := range labels {
		row, ok := rows[label]
		if !ok {
			t.Errorf("summary has no row for %s:\n%s", label, log)
			continue
		}
		r := ends(row)
		if len(r) != len(h) {
			t.Errorf("summary row %q: %d columns, header %d", row, len(r), len(h))
			continue
		}
		if !strings.HasPrefix(row, label+" ") || r[1] != h[1] || r[len(r)-1] != h[len(h)-1] {
			t.Errorf("summary row not aligned with its header:\n%s\n%s", header, row)
		}
	}
}

// TestSuiteScriptProgressWarmupLongLabel runs scripts/suite.sh for one short test with a
// long label (create_and_delete_8.0_KiB) into REPORT_DIR: the ensemble is warmed up
// first (WARMUP=4s: a cold JVM may give no statistics in its first second, with progress lines of its own), the test's progress lines count
// and rate its requests, the summary table's columns line up for the long label, and
// run.json and the report say the warm-up was done.
func TestSuiteScriptProgressWarmupLongLabel(t *testing.T) {
	testenv.RequireLocust(t)
	if err := zkenv.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "suite")
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "create_and_delete:8192"},
		Env: []string{"ZKLOAD=" + zkloadBin, "REPORT_DIR=" + dir, "RUN_TIME=2s", "WARMUP=4s", "USERS=2", "SPAWN_RATE=2",
			"WORKERS=1", "ZK_LOCUST_HOSTS=", "FORCE=", "STATS_COLLECT="},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "suite.log"),
	})
	if code := p.Wait(120 * time.Second); code != 0 {
		t.Fatalf("suite.sh: exit %d\n%s", code, p.Log())
	}
	log := p.Log()
	label := "create_and_delete_8.0_KiB"
	warm := strings.Index(log, "== warming up the ensemble: 4s of CreateAndDelete, 2 users, not measured (WARMUP=0 skips it")
	if first := strings.Index(log, "== [1/1] "+label); warm < 0 || first < warm {
		t.Errorf("no warm-up line before the first test:\n%s", log)
	}
	checkProgress(t, log, "warm-up", label)
	checkSummaryAligned(t, log, label)
	m := readRunJSON(t, filepath.Join(dir, "run.json"))
	if s, _ := m["settings"].(map[string]any); s["warmup"] != "4s of CreateAndDelete before the first test, not measured" {
		t.Errorf("run.json settings: warmup %q", s["warmup"])
	}
	if page, err := os.ReadFile(filepath.Join(dir, "report", "report.html")); err != nil ||
		!strings.Contains(string(page), "<th>setting warmup</th><td class=\"l\">4s of CreateAndDelete before the first test, not measured</td>") {
		t.Errorf("report.html does not say the warm-up was done (%v)", err)
	}
	// The warm-up's files are scratch, not a test of the report.
	if _, err := os.Stat(filepath.Join(dir, "tmp", "warmup", "ext_stats_1.csv")); err != nil {
		t.Errorf("warm-up statistics: %v", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*ext_stats*")); len(matches) != 1 {
		t.Errorf("statistics files in %s: %v, want the test's only", dir, matches)
	}
}

// TestSequenceScriptShortStepsNoWarmup runs scripts/sequence.sh with 2-second steps, as
// `make sequence BENCH_STEP_DURATION=2` does, and WARMUP=0: no warm-up, and each step's
// progress lines come within its 2 s and count and rate its requests.
func TestSequenceScriptShortStepsNoWarmup(t *testing.T) {
	testenv.RequireLocust(t)
	if err := zkenv.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	t.Parallel()
	out := t.TempDir()
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "sequence.sh"), "--bench-step-duration", "2"},
		Env: []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "USERS=2", "SPAWN_RATE=2", "WORKERS=1", "ZK_LOCUST_HOSTS=",
			"WARMUP=0", "REPORT_DIR=", "STATS_COLLECT=", "SEQUENCE_STEPS=set:8 get_children2"},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "sequence.log"),
	})
	if code := p.Wait(120 * time.Second); code != 0 {
		t.Fatalf("sequence.sh: exit %d\n%s", code, p.Log())
	}
	log := p.Log()
	if !strings.Contains(log, "== no warm-up (WARMUP=0)") || strings.Contains(log, "warming up") {
		t.Errorf("WARMUP=0 does not skip the warm-up:\n%s", log)
	}
	checkProgress(t, log, "set_8_B", "get_children2")
	checkSummaryAligned(t, log, "set_8_B", "get_children2")

	bad := testenv.StartProcessOptions(t, testenv.ProcOptions{Path: "bash",
		Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "get"},
		Env:  []string{"ZKLOAD=" + zkloadBin, "OUT=" + t.TempDir(), "WARMUP=soon"},
		Dir:  repoRoot(t), LogPath: filepath.Join(t.TempDir(), "bad.log")})
	if code := bad.Wait(10 * time.Second); code != 2 || strings.TrimSpace(bad.Log()) != `suite.sh: WARMUP "soon": want a time span such as 10s, 2m or 1h30m` {
		t.Errorf("WARMUP=soon: exit %d, %q; want 2 and one line", code, bad.Log())
	}
}
