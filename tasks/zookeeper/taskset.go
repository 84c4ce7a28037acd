package zookeeper

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// TaskSet is one of zk-locust's task sets: a stats name, a weighted mix of request
// types, and the user class that runs it. Each lives in its own file with its per-user
// state; TaskSets lists them.
type TaskSet struct {
	// Class is the user class's name (CamelCase); BaseName the stats name (snake_case),
	// which is also the suites' test name.
	Class, BaseName string
	// Sized task sets carry the value size in their name when it is set (set_512_B), and
	// the sequence runs them at each of its sizes.
	Sized bool
	// Suite is the task set's place in zk-locust's suite (its Makefile's list of tests),
	// from 1; 0 for a task set the suites run only when named (connect).
	Suite int
	// Passive task sets send no requests: their one task waits for what happens to the
	// user's session and records it (Standby). They take no part in the open loop
	// (--rate) or pipelining (--outstanding), and have no think time.
	Passive     bool
	Description string
	Tasks       []TaskDef
	// setup opens the user's session (if the task set has one) and returns the user's
	// state for the task set, on which its tasks run.
	setup func(ctx context.Context, u *user, r *rand.Rand) (any, error)
}

// TaskDef is one weighted request type of a task set, and the operation that makes it.
type TaskDef struct {
	// Method is the request type it records; a task that records under several (a
	// passive task set's, whose operation returns recordAs) is named for what it does.
	Method string
	Weight int
	// run does one request on the user's task-set state (setup's). It returns the
	// response time measured from t0 (the actual or planned start), a content length,
	// and the error.
	run func(state any, ctx context.Context, t0 time.Time) (time.Duration, int64, error)
}

// TaskSets returns zk-locust's task sets, in the order zkload lists them, which
// zk-locust's sequence follows. A new task set is its own file and one line here.
func TaskSets() []*TaskSet {
	return []*TaskSet{
		setTaskSet(),
		getTaskSet(),
		setAndGetTaskSet(),
		createAndDeleteTaskSet(),
		watchTaskSet(),
		existsTaskSet(),
		existsManyTaskSet(),
		getChildrenTaskSet(),
		getChildren2TaskSet(),
		connectTaskSet(),
		standbyTaskSet(),
	}
}

// op is one weighted request type of a task set whose per-user state is S.
type op[S any] struct {
	method string
	weight int
	run    func(st S, ctx context.Context, t0 time.Time) (time.Duration, int64, error)
}

// task makes an op; run is typically a method expression, (*setState).set.
func task[S any](method string, weight int, run func(S, context.Context, time.Time) (time.Duration, int64, error)) op[S] {
	return op[S]{method, weight, run}
}

// define completes ts with a setup that makes each user's state S and the tasks that
// run on it, so that a task's operation and its state cannot be mismatched.
func define[S any](ts TaskSet, setup func(ctx context.Context, u *user, r *rand.Rand) (S, error), ops ...op[S]) *TaskSet {
	ts.setup = func(ctx context.Context, u *user, r *rand.Rand) (any, error) { return setup(ctx, u, r) }
	for _, o := range ops {
		run := o.run
		ts.Tasks = append(ts.Tasks, TaskDef{Method: o.method, Weight: o.weight,
			run: func(st any, ctx context.Context, t0 time.Time) (time.Duration, int64, error) {
				return run(st.(S), ctx, t0)
			}})
	}
	return &ts
}

// Name is the task set's name in the stats for these settings.
func (ts *TaskSet) Name(s *Settings) string {
	if ts.Sized && s.SizedNames {
		return ts.BaseName + "_" + SizeSuffix(s.ValSize)
	}
	return ts.BaseName
}

// SizeSuffix renders a value size as zk-locust's sequence did: 8_B, 512_B, and from
// 1024 bytes on, KiB rounded to 3 decimals with Python's float formatting: 8.0_KiB.
func SizeSuffix(n int) string {
	if n < 1024 {
		return strconv.Itoa(n) + "_B"
	}
	k := math.Round(float64(n)/1024*1000) / 1000
	s := strconv.FormatFloat(k, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s + "_KiB"
}

// KeyPath is key i of the shared key space: <root>/c-<i zero-padded to keySize-2
// digits> (zk-locust's layout; longer numbers are not truncated).
func KeyPath(root string, keySize, i int) string {
	d := strconv.Itoa(i)
	if w := keySize - 2; len(d) < w {
		d = strings.Repeat("0", w-len(d)) + d
	}
	return root + "/c-" + d
}

func since(t0 time.Time) time.Duration { return time.Since(t0) }
