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
// configuration, with the tools that are installed (it skips the others itself): one
// round of 2 s, and of the ZooKeeper matrix two cases, get of 8 B in closed loop and set
// of 1 KiB pipelined, the scale program on 500 idle users and two rates, and each micro
// benchmark once. It checks that the report has every zkload row at a positive rate,
// and, when ZooKeeper ran, a section per case with its bare-loop row and its target
// verdicts. It checks that the harness works, not how fast anything is.
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
	cmd.Env = append(os.Environ(), "BENCH_ROUNDS=1", "BENCH_SECONDS=2", "BENCH_OUT="+out, "ZKLOAD="+zkloadBin,
		"BENCH_ZK=1", "BENCH_ZK_CASES=get:8:closed set:1024:pipelined", "BENCH_ZK_USERS=8",
		"BENCH_ZK_OUTSTANDING=4", "BENCH_ZK_WARMUP=1", "BENCH_ZK_JIT_WARMUP=1",
		"BENCH_SCALE_ARGS=-users 500 -hb-time 2s -hb-busy 0 -rates 100,0 -rate-time 1s -stats-interval 1s",
		"BENCH_MICRO_TIME=1x")
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
	if svg, err := os.ReadFile(strings.TrimSuffix(out, ".md") + ".svg"); err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("bench.sh drew no chart beside the report (%v)", err)
	}
	if !strings.Contains(report, "](performance.svg)") {
		t.Errorf("report does not show the chart:\n%s", report)
	}
	for _, want := range []string{"## Machine and versions", "## HTTP", "| tool | median req/s |", "## Commands",
		"## Scale", "| 500 | ", "- 100k idle users in one worker under 1 GiB RSS: ", "- heartbeat gaps p99 < 1.2 s",
		"- stats messages bounded as the request rate grows: ",
		"## Micro", "| RecordSuccess | 1 | ", "- RecordSuccess ≤ 100 ns and 0 allocations: "} {
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
	if strings.Contains(report, "the zookeeper package is not installed") {
		t.Log("ZooKeeper not installed: its cases were skipped")
		return
	}
	cases := []struct{ title, zkload, locust string }{
		{"## ZooKeeper: get of 8 B, closed loop, 8 sessions, 1 request in flight each", "zkload Get",
			"- zkload Get ≥ 4× Locust + kazoo: "},
		{"## ZooKeeper: set of 1 KiB, pipelined, 8 sessions, 4 requests in flight each", "zkload Set",
			"- zkload Set ≥ 4× Locust + kazoo: not applicable (Locust + kazoo is not pipelined)"},
	}
	for _, c := range cases {
		sec := section(report, c.title)
		if sec == "" {
			t.Errorf("report lacks the section %q:\n%s", c.title, report)
			continue
		}
		for _, want := range []string{"| " + c.zkload + " | ", "| bare go-zookeeper | ", "- " + c.zkload + " ≥ 0.9× bare go-zookeeper: ", c.locust} {
			if !strings.Contains(sec, want) {
				t.Errorf("section %q lacks %q:\n%s", c.title, want, sec)
			}
		}
		if strings.Contains(c.title, "pipelined") && strings.Contains(sec, "| Locust + kazoo |") {
			t.Errorf("section %q has a Locust + kazoo row; kazoo is not run pipelined:\n%s", c.title, sec)
		}
	}
}

// section is the part of a markdown report from the line title to the next "## "
// heading, or "" if there is no such line.
func section(report, title string) string {
	i := strings.Index(report, "\n"+title+"\n")
	if i < 0 {
		return ""
	}
	s := report[i+1:]
	if j := strings.Index(s[len(title):], "\n## "); j >= 0 {
		s = s[:len(title)+j]
	}
	return s
}
