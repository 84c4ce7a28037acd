package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be its own worker child, as the program is: run
// re-executes os.Executable() with -worker first.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == workerFlag {
		os.Exit(workerExit(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// TestTinyRun measures everything at a tiny scale, against a net/http target in the
// test, and checks that every figure is there and plausible. Speeds are not judged:
// they depend on the machine.
func TestTinyRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes for several seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "scale.json")
	var out, errs bytes.Buffer
	err := run(ctx, []string{"-users", "300", "-failing-users", "300", "-settle", "300ms", "-hb-time", "2500ms", "-hb-users", "4", "-hb-busy", "1",
		"-rates", "50,0", "-rate-users", "4", "-rate-time", "1s", "-stats-interval", "500ms",
		"-server", "go", "-worker-cpu", "-1", "-json", jsonPath}, &out, &errs)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errs.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatalf("-json: %v\n%s", err, b)
	}

	if len(sum.Idle) != 1 {
		t.Fatalf("idle results %+v, want one", sum.Idle)
	}
	idle := sum.Idle[0]
	if idle.Users != 300 || idle.RSSBefore <= 0 || idle.RSSAfter <= idle.RSSBefore || idle.PeakRSS < idle.RSSAfter ||
		idle.SpawnSeconds <= 0 || idle.UsersPerSecond <= 0 {
		t.Errorf("idle users: %+v", idle)
	}
	// A user is a goroutine with its stack and a few small structures: kilobytes, not
	// bytes and not megabytes.
	if idle.RSSPerUser < 500 || idle.RSSPerUser > 1<<20 {
		t.Errorf("RSS per idle user %.0f B is implausible", idle.RSSPerUser)
	}

	if len(sum.Failing) != 1 {
		t.Fatalf("failing results %+v, want one", sum.Failing)
	}
	// Failing users cost memory too (more than idle ones, but the amount depends on the
	// GC's timing: not judged), and every request failed.
	fail := sum.Failing[0]
	if fail.Users != 300 || fail.RSSAfter <= fail.RSSBefore || fail.PeakRSS < fail.RSSAfter ||
		fail.PeakPerUser < fail.RSSPerUser || fail.RSSPerUser < 500 || fail.RequestsPerSecond <= 0 {
		t.Errorf("failing users: %+v", fail)
	}

	if len(sum.Heartbeat) != 2 || sum.Heartbeat[0].Busy != 0 || sum.Heartbeat[1].Busy != 1 {
		t.Fatalf("heartbeat results %+v, want one without and one with Busy users", sum.Heartbeat)
	}
	for _, r := range sum.Heartbeat {
		if r.Heartbeats < 2 || r.GapP50 <= 0 || r.GapP99 < r.GapP50 || r.GapMax < r.GapP99 ||
			r.RequestsPerSecond <= 0 || r.Failures != 0 {
			t.Errorf("heartbeats: %+v", r)
		}
	}

	if len(sum.Stats) != 2 {
		t.Fatalf("stats results %+v, want two rates", sum.Stats)
	}
	for _, r := range sum.Stats {
		if r.Messages < 1 || r.MedianBytes <= 0 || r.MaxBytes < r.MedianBytes || r.MaxBuckets < 1 ||
			r.RequestsPerSecond <= 0 || r.Failures != 0 {
			t.Errorf("stats at %v req/s: %+v", r.TargetRate, r)
		}
	}
	// Paced users make about the rate asked (generous bounds: a loaded machine may
	// lag, and intervals are short here).
	if r := sum.Stats[0]; r.RequestsPerSecond < 10 || r.RequestsPerSecond > 100 {
		t.Errorf("asked for 50 req/s, measured %.1f", r.RequestsPerSecond)
	}

	if len(sum.Verdicts) != 4 {
		t.Errorf("verdicts %+v, want four", sum.Verdicts)
	}
	md := out.String()
	for _, want := range []string{"### Idle users", "### Users whose requests fail at once", "### Heartbeats", "### Stats message size", "Targets:",
		"| 300 |", "| 4 Http + 1 Busy |", "| unthrottled |", "extrapolated from 300 users"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestFlagsRejectNonsense: bad settings fail before anything starts.
func TestFlagsRejectNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"-phases", "idle,fast"}, {"-users", "10,x"}, {"-users", "0"}, {"-rates", "-5"},
		{"-failing-users", "0"}, {"-phases", "failing", "-failing-users", ""},
		{"-hb-time", "10ms"}, {"-server", "apache"}, {"-stats-interval", "5s", "-rate-time", "1s"}, {"extra"},
	} {
		var errs bytes.Buffer
		if _, err := parseFlags(args, &errs); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, c := range []struct{ p, want float64 }{{0.5, 3}, {0.99, 5}, {0, 1}, {1, 5}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if xs[0] != 5 {
		t.Errorf("percentile sorted its input")
	}
}
