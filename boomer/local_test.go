package boomer

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/wire"
)

// steps returns the targets after each of the first n users a Dispatcher hands out.
func steps(classes []*UserClass, n int) []map[string]int {
	d := NewDispatcher(classes, n)
	var out []map[string]int
	for k := 1; k <= d.Len(); k++ {
		out = append(out, d.Advance(k))
	}
	return out
}

// TestDispatchOrder: Locust's dispatcher gives A, B of weights 5 and 1 as
// AAABAAAAABAA... (its docstring), and fixed-count classes first.
func TestDispatchOrder(t *testing.T) {
	a, b := &UserClass{Name: "A", Weight: 5}, &UserClass{Name: "B", Weight: 1}
	var got strings.Builder
	prev := map[string]int{}
	for _, step := range steps([]*UserClass{a, b}, 12) {
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
	s := steps([]*UserClass{a, f}, 4)
	if len(s) != 4 || s[1]["F"] != 2 || s[1]["A"] != 0 || s[3]["A"] != 2 {
		t.Errorf("fixed-count dispatch %v, want F twice first", s)
	}
	if s := steps([]*UserClass{f}, 5); len(s) != 2 {
		t.Errorf("only fixed classes: %d users dispatched, want 2", len(s))
	}
}

// TestDispatcherHoldsNothingPerUser: dispatching an absurd count neither allocates in
// proportion to it nor panics; advancing in large steps gives what single steps give,
// and the weights' proportions hold.
func TestDispatcherHoldsNothingPerUser(t *testing.T) {
	a, b := &UserClass{Name: "A", Weight: 3}, &UserClass{Name: "B", Weight: 1}
	allocs := testing.AllocsPerRun(3, func() {
		d := NewDispatcher([]*UserClass{a, b}, math.MaxInt)
		if d.Len() != math.MaxInt {
			t.Errorf("Len %d, want MaxInt", d.Len())
		}
		d.Advance(1000)
	})
	if allocs > 50 {
		t.Errorf("%v allocations to dispatch 1000 of MaxInt users", allocs)
	}
	d := NewDispatcher([]*UserClass{a, b}, 1_000_000)
	got := d.Advance(1_000_000)
	if got["A"] != 750_000 || got["B"] != 250_000 {
		t.Errorf("1e6 users by weights 3:1: %v", got)
	}
	if again := d.Advance(2_000_000); again["A"]+again["B"] != 1_000_000 {
		t.Errorf("advancing past Len: %v, want it to stay at 1e6 users", again)
	}
	one, big := steps([]*UserClass{a, b}, 37), NewDispatcher([]*UserClass{a, b}, 37)
	for _, k := range []int{5, 6, 20, 37} {
		if got, want := big.Advance(k), one[k-1]; got["A"] != want["A"] || got["B"] != want["B"] {
			t.Errorf("after %d users in jumps %v, one at a time %v", k, got, want)
		}
	}
	if d := NewDispatcher([]*UserClass{a}, -5); d.Len() != 0 || len(d.Advance(3)) != 1 {
		t.Errorf("a negative count dispatched users")
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

// TestRunLocalRefusesMoreUsersThanTheLimit: before anything runs, with the limit in
// the error.
func TestRunLocalRefusesMoreUsersThanTheLimit(t *testing.T) {
	var n userCounts
	reported := false
	err := RunLocal(context.Background(), LocalOptions{
		Classes: []*UserClass{counting("A", &n, time.Millisecond)}, Users: math.MaxInt32, SpawnRate: 1,
		Limit: &UserLimit{Users: 100, Memory: 100 * PerUserMemory, Source: "a test"}, Logger: quietLog(),
		OnReport: func(wire.StatsReport) { reported = true },
	})
	if err == nil || !strings.Contains(err.Error(), "2147483647 users: more than this machine can hold; at most 100 users") {
		t.Errorf("RunLocal: %v", err)
	}
	if reported || n.running.Load() != 0 {
		t.Errorf("a refused run ran")
	}
}

// failing is a class whose users fail at once and never wait, as users of a target
// that refuses connections do.
func failing() *UserClass {
	return &UserClass{Name: "F", Weight: 1, Tasks: []Task{{Name: "t", Weight: 1, Fn: func(_ context.Context, u *User) error {
		u.Record("GET", "/", 0, 0, errors.New("ConnectionRefusedError(111, 'Connection refused')"))
		return nil
	}}}}
}

// TestRunLocalEndsWithManyFailingUsers: thousands of users that fail as fast as they
// can, spawned at once, and a run time: the run ends, the last report comes after
// every user stopped and the reports hold the requests. (The race detector allows
// 8128 goroutines: zkload's end-to-end tests take 100,000 users.)
func TestRunLocalEndsWithManyFailingUsers(t *testing.T) {
	var total, failures int64
	var last wire.StatsReport
	err := RunLocal(context.Background(), LocalOptions{
		Classes: []*UserClass{failing()}, Users: 5000, SpawnRate: 1e9, RunTime: 3 * time.Second, // 1 s: spawning 5000 under -race on a loaded machine took it all
		ReportEvery: 200 * time.Millisecond, Logger: quietLog(),
		OnReport: func(r wire.StatsReport) {
			total += r.StatsTotal.NumRequests
			failures += r.StatsTotal.NumFailures
			last = r
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || failures != total || last.UserCount != 0 {
		t.Errorf("%d requests, %d failures, last report with %d users; want failures only, and 0 users at the end", total, failures, last.UserCount)
	}
}

// logHook is a slog handler that writes text and calls on for every record.
type logHook struct {
	slog.Handler
	on func(slog.Record)
}

func (h logHook) Handle(ctx context.Context, r slog.Record) error {
	h.on(r)
	return h.Handler.Handle(ctx, r)
}

// TestSignalDuringTheStopTimeoutIsAnswered: a signal (ctx) that comes while users use
// their stop timeout does not cut it short, but it is answered at once with what is
// being waited for, once; the users still busy at the end are interrupted, as Locust
// says.
func TestSignalDuringTheStopTimeoutIsAnswered(t *testing.T) {
	var n userCounts
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	h := logHook{Handler: slog.NewTextHandler(logs, nil), on: func(r slog.Record) {
		if strings.HasPrefix(r.Message, "--run-time limit reached") {
			cancel(errors.New("got SIGTERM"))
			cancel(errors.New("got SIGINT")) // a second cancel is no news
		}
	}}
	err := RunLocal(ctx, LocalOptions{
		Classes: []*UserClass{counting("Slow", &n, time.Hour)}, Users: 2, SpawnRate: 100, RunTime: 300 * time.Millisecond,
		StopTimeout: 500 * time.Millisecond, Logger: slog.New(h),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	for _, want := range []string{
		`msg="--run-time limit reached, stopping" users=2 stop_timeout=500ms`,
		`more for users to finish their tasks (stop timeout 500ms), then 1s at most for them to return" reason="got SIGTERM"`,
		`msg="Not all users finished their tasks & terminated in 0.5 seconds. Stopping them..." users=2`,
	} {
		if strings.Count(got, want) != 1 {
			t.Errorf("log lacks, once: %s\n%s", want, got)
		}
	}
	if strings.Count(got, "Stopping: waiting up to") != 1 {
		t.Errorf("the wait was announced more than once:\n%s", got)
	}
}
