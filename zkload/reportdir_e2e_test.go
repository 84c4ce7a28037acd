package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv"
)

// readRunJSON reads run.json and checks that it has every key the report reads.
func readRunJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	for _, k := range []string{"command", "start", "end", "settings", "versions", "ensemble", "tests"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q:\n%s", path, k, b)
		}
	}
	for _, k := range []string{"start", "end"} {
		if s, _ := m[k].(string); s != "" {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Errorf("%s: %s %q: %v", path, k, s, err)
			}
		}
	}
	v, _ := m["versions"].(map[string]any)
	for _, k := range []string{"zkload", "go", "locust", "zookeeper"} {
		if _, ok := v[k]; !ok {
			t.Errorf("%s: versions lack %q", path, k)
		}
	}
	return m
}

// TestRunReportDir: `zkload run --report-dir` fills an empty directory, refuses it
// the second time in one line naming --report-dir and --force, and with --force runs
// again; bad flags leave a new directory as it was.
func TestRunReportDir(t *testing.T) {
	t.Parallel()
	tg := testenv.HTTPTarget(t, testenv.TargetOptions{})
	dir := filepath.Join(t.TempDir(), "run1")
	args := []string{"run", "-u", "2", "-r", "2", "-t", "2s", "-H", tg.URL, "--report-dir", dir, "Http"}
	runZkload(t, 0, args...)
	for _, f := range []string{"locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust_exceptions.csv",
		"ext_stats.csv", "ext_distrib.jsonl", "zkload.log", "run.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", f, err)
		}
	}
	m := readRunJSON(t, filepath.Join(dir, "run.json"))
	if cmd, _ := m["command"].([]any); len(cmd) < 2 || cmd[0] != "zkload" || cmd[1] != "run" {
		t.Errorf("command %v", m["command"])
	}
	if s, _ := m["settings"].(map[string]any); s["users"] != "2" || s["classes"] != "Http" {
		t.Errorf("settings %v", m["settings"])
	}
	if tests, _ := m["tests"].([]any); len(tests) != 1 || tests[0] != "Http" {
		t.Errorf("tests %v", m["tests"])
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "zkload.log")); !strings.Contains(string(log), "Aggregated") {
		t.Errorf("zkload.log lacks the summary:\n%s", log)
	}

	out := runZkload(t, 2, args...)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 ||
		!strings.Contains(out, "--report-dir") || !strings.Contains(out, "--force") {
		t.Errorf("second run into %s: want one line naming --report-dir and --force, got:\n%s", dir, out)
	}
	runZkload(t, 0, append(args[:len(args)-1], "--force", "Http")...)
	readRunJSON(t, filepath.Join(dir, "run.json"))

	fresh := filepath.Join(t.TempDir(), "bad")
	runZkload(t, 2, "run", "-u", "-1", "--report-dir", fresh, "Http")
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("bad flags left %s behind (%v)", fresh, err)
	}
}

// TestSuiteScriptReportDir runs scripts/suite.sh with REPORT_DIR for one short test:
// the test's files and run.json go to the directory, which a second run refuses
// without FORCE=1.
func TestSuiteScriptReportDir(t *testing.T) {
	testenv.RequireLocust(t)
	if err := zkenv.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "suite")
	out := t.TempDir()
	env := []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "REPORT_DIR=" + dir, "RUN_TIME=2s", "USERS=2", "SPAWN_RATE=2",
		"WORKERS=1", "ZK_LOCUST_HOSTS=", "FORCE="}
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "get"},
		Env: env, Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "suite.log"),
	})
	if code := p.Wait(120 * time.Second); code != 0 {
		t.Fatalf("suite.sh: exit %d\n%s", code, p.Log())
	}
	for _, f := range []string{"get.log", "get_stats.csv", "get_stats_history.csv", "get_failures.csv",
		"get_ext_stats_1.csv", "get_ext_distrib_1.jsonl", "get_zk_metrics.csv", "run.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("OUT %s is not empty: REPORT_DIR replaces it", out)
	}
	m := readRunJSON(t, filepath.Join(dir, "run.json"))
	if tests, _ := m["tests"].([]any); len(tests) != 1 || tests[0] != "get" {
		t.Errorf("tests %v", m["tests"])
	}
	if s, _ := m["settings"].(map[string]any); s["workers"] != "1" || s["run_time"] != "2s" {
		t.Errorf("settings %v", m["settings"])
	}
	if e, _ := m["ensemble"].(string); !strings.Contains(e, "127.0.0.1:") {
		t.Errorf("ensemble %q", e)
	}

	again := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "get"},
		Env: env, Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "again.log"),
	})
	if code := again.Wait(30 * time.Second); code != 2 || !strings.Contains(again.Log(), "FORCE=1") {
		t.Errorf("suite.sh into a non-empty REPORT_DIR: exit %d, want 2 and a word on FORCE=1\n%s", code, again.Log())
	}
}
