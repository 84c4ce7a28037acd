package control_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/control"
)

func mustConstraints(t *testing.T, s string) []control.Constraint {
	t.Helper()
	cs, err := control.ParseConstraints(s)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func logSteps(t *testing.T, res control.SeekResult) {
	t.Helper()
	for i, st := range res.Steps {
		mark := ""
		if i == res.Knee {
			mark = " <- knee"
		}
		t.Logf("step %2d: level %8.1f offered %8.1f achieved %8.1f p50 %8v p99 %8v p99.9 %8v err %.3f pass=%v steady=%v windows=%d %s%s: %s",
			i, st.Level, st.Offered, st.Achieved, st.P50, st.P99, st.P999, st.ErrorRate, st.Pass, st.Steady, st.Windows, st.How, mark, st.Reason)
	}
	t.Log(res)
}

// The seeker finds a queueing target's capacity within 5%, for two capacities.
func TestSeekFindsCapacity(t *testing.T) {
	for _, n := range []float64{1000, 5000} {
		for _, poisson := range []bool{false, true} {
			name := map[bool]string{false: "even", true: "poisson"}[poisson]
			t.Run(fmt.Sprintf("%s/%.0f", name, n), func(t *testing.T) {
				s, err := control.NewSeek(control.SeekConfig{Constraints: mustConstraints(t, "p99<50ms, errors<1%")})
				if err != nil {
					t.Fatal(err)
				}
				tg := &target{Capacity: n, Service: 500 * time.Microsecond, QueueLimit: 100000, Poisson: poisson, Seed: uint64(n)}
				r := runOpen(s, tg, time.Second, 2000)
				res := s.Result()
				logSteps(t, res)
				if !res.Done {
					t.Fatalf("not done after %d windows", len(r.Windows))
				}
				lo := 0.95
				if poisson {
					// Random arrivals queue before the capacity: p99<50ms binds a little below it.
					lo = 0.85
				}
				if c := res.Capacity; c < lo*n || c > 1.05*n {
					t.Errorf("capacity %.1f, want %.0f within [%.2f, 1.05]", c, n, lo)
				}
				t.Logf("capacity %.1f vs %.0f: %+.2f%%, %d windows", res.Capacity, n, 100*(res.Capacity/n-1), len(r.Windows))
			})
		}
	}
}

// A stall of the target for 1.5 s early in the search (a long GC pause) fails the
// step it falls in; by default the level is held again before the failure counts, and
// the capacity is found as without the stall. Without the retry the stalled step is
// taken for the knee: the search ends far below the capacity.
func TestSeekRetriesAFailedLevel(t *testing.T) {
	const n = 1000
	for _, retries := range []int{0, control.NoRetry} {
		s, err := control.NewSeek(control.SeekConfig{Constraints: mustConstraints(t, "p99<50ms, errors<1%"), Retries: retries})
		if err != nil {
			t.Fatal(err)
		}
		tg := &target{Capacity: n, Service: 500 * time.Microsecond, QueueLimit: 100000, Seed: 7, Stalls: [][2]float64{{3, 4.5}}}
		runOpen(s, tg, time.Second, 2000)
		res := s.Result()
		logSteps(t, res)
		retried := false
		for _, st := range res.Steps {
			retried = retried || st.How == "retry"
		}
		switch {
		case retries == 0 && (res.Capacity < 0.95*n || res.Capacity > 1.05*n || !retried):
			t.Errorf("with the default retry: capacity %.1f (retried %v), want %d within 5%%", res.Capacity, retried, n)
		case retries == control.NoRetry && (res.Capacity > 0.5*n || retried):
			t.Errorf("without retries: capacity %.1f (retried %v); want the stalled step taken for the knee, far below %d", res.Capacity, retried, n)
		}
	}
}

// In users (zk-locust's max_load_seeker), the seeker finds the most users whose p99
// stays under a bound. At saturation a closed loop's latency is about users/N (Little's
// law: the users wait in line for the capacity), so p99<20ms at N=2000 allows a little
// over 30 users.
func TestSeekUsersFindsLatencyBound(t *testing.T) {
	s, err := control.NewSeek(control.SeekConfig{Unit: control.Users, Start: 1, Constraints: mustConstraints(t, "p99<20ms")})
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{Capacity: 2000, Service: 2 * time.Millisecond, Seed: 3}
	r := runClosed(s, tg, time.Second, 2000)
	res := s.Result()
	logSteps(t, res)
	if !res.Done {
		t.Fatalf("not done after %d windows", len(r.Windows))
	}
	if res.Capacity < 27 || res.Capacity > 35 || res.Hi-res.Lo > 1 {
		t.Errorf("capacity %v users (bracket %v-%v), want about 31 to one user", res.Capacity, res.Lo, res.Hi)
	}
	if a := res.Achieved; math.Abs(a/2000-1) > 0.05 {
		t.Errorf("achieved %.0f/s at the capacity, want the target's 2000/s", a)
	}
}

// Without a latency constraint, the closed-loop seeker grows users until sessions
// expire, as zk-locust's does: at 100 ms session timeout and N=2000, a little under 200
// users wait 100 ms in line (the slowest services expire first).
func TestSeekUsersStopsAtSessionExpiry(t *testing.T) {
	s, err := control.NewSeek(control.SeekConfig{Unit: control.Users, Start: 8, SpawnRate: 50})
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{Capacity: 2000, Service: 2 * time.Millisecond, SessionTimeout: 100 * time.Millisecond, Seed: 4}
	runClosed(s, tg, time.Second, 2000)
	res := s.Result()
	logSteps(t, res)
	if !res.Done || res.Capacity < 150 || res.Capacity > 210 {
		t.Errorf("capacity %v users, want about 180-200 (sessions expire beyond)", res.Capacity)
	}
	for _, st := range res.Steps {
		if !st.Pass && !strings.Contains(st.Reason, "expired") {
			t.Errorf("step at %v users failed for %q, want session expiry", st.Level, st.Reason)
		}
	}
}

// Without a latency constraint, and starting far above the capacity (the first step's
// backlog drained before the next), the seeker still finds it: an overload shows as a
// median latency growing by the overload's fraction every second, so the capacity is
// found within the throughput tolerance (3%).
func TestSeekWithoutLatencyConstraintFromAbove(t *testing.T) {
	for _, n := range []float64{1300, 7777} {
		s, err := control.NewSeek(control.SeekConfig{Start: 50000, Constraints: mustConstraints(t, "errors<1%")})
		if err != nil {
			t.Fatal(err)
		}
		runOpen(s, &target{Capacity: n, Service: 500 * time.Microsecond, QueueLimit: 100000, Seed: 2}, time.Second, 3000)
		res := s.Result()
		if !res.Done || res.Capacity < 0.99*n || res.Capacity > 1.04*n {
			logSteps(t, res)
			t.Errorf("capacity %.1f, want %.0f within [-1%%, +4%%]", res.Capacity, n)
		}
		t.Logf("capacity %.1f vs %.0f: %+.2f%% in %d steps", res.Capacity, n, 100*(res.Capacity/n-1), len(res.Steps))
	}
}
