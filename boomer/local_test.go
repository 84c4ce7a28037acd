package boomer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/wire"
)

// TestDispatchOrder: Locust's dispatcher gives A, B of weights 5 and 1 as
// AAABAAAAABAA... (its docstring), and fixed-count classes first.
func TestDispatchOrder(t *testing.T) {
	a, b := &UserClass{Name: "A", Weight: 5}, &UserClass{Name: "B", Weight: 1}
	var got strings.Builder
	prev := map[string]int{}
	for _, step := range Dispatch([]*UserClass{a, b}, 12) {
		for _, n := range []string{"A", "B"} {
			if step[n] > prev[n] {
				got.WriteString(n)
			}
		}
		prev = step
	}
	if got.String() != "AAABAAAAABAA" {
		t.Errorf("order %s, want AAABAAAAABAA", got.String())
	}
	f := &UserClass{Name: "F", FixedCount: 2}
	steps := Dispatch([]*UserClass{a, f}, 4)
	if len(steps) != 4 || steps[1]["F"] != 2 || steps[1]["A"] != 0 || steps[3]["A"] != 2 {
		t.Errorf("fixed-count dispatch %v, want F twice first", steps)
	}
	if s := Dispatch([]*UserClass{f}, 5); len(s) != 2 {
		t.Errorf("only fixed classes: %d users dispatched, want 2", len(s))
	}
}

// TestRunLocalReportsEverything: a run ramps up, stops at the run time, and the
// reports it delivers hold every request, the last one after every user stopped.
func TestRunLocalReportsEverything(t *testing.T) {
	c := &UserClass{Name: "U", Weight: 1, Tasks: []Task{{Name: "t", Weight: 1, Fn: func(ctx context.Context, u *User) error {
		u.Record("GET", "/x", 3*time.Millisecond, 10, nil)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
		return nil
	}}}}
	var reports []wire.StatsReport
	err := RunLocal(context.Background(), LocalOptions{
		Classes: []*UserClass{c}, Users: 4, SpawnRate: 4, RunTime: 1500 * time.Millisecond,
		ReportEvery: 200 * time.Millisecond, Logger: quietLog(),
		OnReport: func(r wire.StatsReport) { reports = append(reports, r) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	maxUsers := 0
	for _, r := range reports {
		total += r.StatsTotal.NumRequests
		maxUsers = max(maxUsers, r.UserCount)
	}
	last := reports[len(reports)-1]
	if total == 0 || maxUsers != 4 || last.UserCount != 0 {
		t.Errorf("%d reports, %d requests, max users %d, last users %d", len(reports), total, maxUsers, last.UserCount)
	}
	if err := RunLocal(context.Background(), LocalOptions{Classes: []*UserClass{c}, Users: 1}); err == nil {
		t.Error("a zero spawn rate was accepted")
	}
}
