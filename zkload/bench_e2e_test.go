package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchHarness runs `make bench`'s harness (scripts/bench/bench.sh) in a tiny
// configuration, with the tools that are installed (it skips the others itself), and
// checks that it writes its report with a zkload row at a positive rate. It checks that
// the harness works, not how fast anything is.
func TestBenchHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load generators for several seconds")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("taskset not installed")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "performance.md")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts/bench/bench.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "BENCH_ROUNDS=1", "BENCH_SECONDS=2", "BENCH_OUT="+out, "ZKLOAD="+zkloadBin)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench.sh: %v\n%s", err, log.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("bench.sh wrote no report: %v\n%s", err, log.String())
	}
	report := string(b)
	for _, want := range []string{"## Machine and versions", "## HTTP", "| tool | median req/s |", "## Commands"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	rows := 0
	for _, line := range strings.Split(report, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 6 || !strings.HasPrefix(strings.TrimSpace(f[1]), "zkload ") {
			continue
		}
		rows++
		rate, err := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
		if err != nil || rate <= 0 {
			t.Errorf("row %q: median req/s %q, want a positive number", line, f[2])
		}
	}
	if rows == 0 {
		t.Fatalf("report has no zkload row:\n%s\nharness output:\n%s", report, log.String())
	}
}
