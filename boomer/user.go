// Package boomer runs Go users under a Locust master: it speaks Locust's master/worker
// protocol, spawns and stops users as the master orders, and reports what they record.
//
// The vocabulary is Locust's: a UserClass has a name, a weight, a wait time and weighted
// tasks; the master decides how many users of each class run on each worker.
package boomer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/record"
)

// TaskFunc is the body of a task. ctx is cancelled when the user must stop now (a
// stop whose stop_timeout expired, or quit); a task should return promptly then and
// need not record the request it abandoned. A non-nil error other than ctx's own is
// reported to the master as an exception, as an unhandled Python exception would be.
type TaskFunc func(ctx context.Context, u *User) error

// Task is one weighted thing a user does per iteration.
type Task struct {
	Name string
	// Weight is the task's share of a user's picks; tasks with weight 0 are never
	// picked at random (they can still run in a Sequential class).
	Weight int
	// Tags select tasks with Locust's --tags/--exclude-tags.
	Tags []string
	Fn   TaskFunc
}

// WaitTime returns how long a user waits after a task, given how long the task ran.
type WaitTime func(r *rand.Rand, taskRun time.Duration) time.Duration

// Constant waits d after every task (Locust's constant).
func Constant(d time.Duration) WaitTime {
	return func(*rand.Rand, time.Duration) time.Duration { return d }
}

// Between waits a uniformly random time in [min, max] after every task (Locust's between).
func Between(min, max time.Duration) WaitTime {
	if max < min {
		min, max = max, min
	}
	span := max - min
	return func(r *rand.Rand, _ time.Duration) time.Duration {
		if span == 0 {
			return min
		}
		return min + time.Duration(r.Int64N(int64(span)+1))
	}
}

// ConstantPacing starts a task every d at most, whatever the task's run time
// (Locust's constant_pacing).
func ConstantPacing(d time.Duration) WaitTime {
	return func(_ *rand.Rand, taskRun time.Duration) time.Duration {
		if taskRun >= d {
			return 0
		}
		return d - taskRun
	}
}

// ConstantThroughput runs at most perSecond tasks per second per user (Locust's
// constant_throughput).
func ConstantThroughput(perSecond float64) WaitTime {
	if perSecond <= 0 {
		return Constant(0)
	}
	return ConstantPacing(time.Duration(float64(time.Second) / perSecond))
}

// UserClass describes a kind of user, as a Locust User class does. The master's
// locustfile must declare a class of the same name for the master to dispatch to it.
type UserClass struct {
	Name string
	// Weight is the class's share of the users the master dispatches (default 1).
	Weight int
	// FixedCount, if positive, asks the master for exactly this many users of the class.
	FixedCount int
	// Host is the class's default host, used when neither the worker nor the master sets one.
	Host string
	// Wait is the wait time after each task (default: no wait).
	Wait WaitTime
	// Tasks are picked at random by weight, or run in order when Sequential is set.
	Tasks      []Task
	Sequential bool
	// OnStart runs once when a user starts, before its first task. If it fails, the
	// error is reported as an exception and OnStart is retried after a pause, so a user
	// whose server is down keeps trying rather than vanishing.
	OnStart func(ctx context.Context, u *User) error
	// OnStop runs once when a user stops, with a context bounded by the stop timeout.
	OnStop func(ctx context.Context, u *User)
	// Description is shown by `zkload list`.
	Description string
}

// Validate reports the first problem that would make the class unusable.
func (c *UserClass) Validate() error {
	if c.Name == "" {
		return errors.New("user class has no name")
	}
	if c.Weight < 0 || c.FixedCount < 0 {
		return fmt.Errorf("user class %s: weight and fixed count must not be negative", c.Name)
	}
	total := 0
	for _, t := range c.Tasks {
		if t.Fn == nil {
			return fmt.Errorf("user class %s: task %q has no function", c.Name, t.Name)
		}
		if t.Weight < 0 {
			return fmt.Errorf("user class %s: task %q has a negative weight", c.Name, t.Name)
		}
		total += t.Weight
	}
	if len(c.Tasks) == 0 {
		return fmt.Errorf("user class %s has no tasks", c.Name)
	}
	if total == 0 && !c.Sequential {
		return fmt.Errorf("user class %s: all task weights are 0", c.Name)
	}
	return nil
}

// User is one running user: a goroutine running its class's tasks. A User is used by
// its own goroutine only, except for Record, which is safe anywhere.
type User struct {
	// Class is the user's class.
	Class *UserClass
	// ID numbers the users of this worker process, from 0.
	ID int
	// Host is the effective host: the worker's --host, else the master's, else the class's.
	Host string
	// Rand is the user's own random source.
	Rand *rand.Rand
	// Data holds whatever the class's OnStart sets up (a client, a session).
	Data any

	env   *Env
	shard *recorder.Shard
	extra record.Recorder // nil unless the worker has an extra sink (extended statistics)
	// locked is set when extra is a record.LockedSink's shard for shard's lock: it is
	// then recorded into under that lock, as part of the shard's own Record.
	locked bool
	dead   *atomic.Bool // set when a stop gave up on this user: it records nothing more
}

// Env is what a worker shares with its users for the current test.
type Env struct {
	// WorkerIndex is the index the master gave this worker (0 for masters before 2.11).
	WorkerIndex int
	// ParsedOptions are the master's parsed command-line options, custom ones included.
	// Users must not modify them.
	ParsedOptions map[string]any
}

// Env returns the worker environment of the test the user belongs to.
func (u *User) Env() *Env { return u.env }

// Record records one request: method and name as Locust shows them, its response time,
// the response size, and the error if it failed. It is the hot path: it does not
// allocate and does not block on anything shared by all users. It is safe for
// concurrent use, by several goroutines of one user too (see record.Recorder).
func (u *User) Record(method, name string, elapsed time.Duration, contentLength int64, err error) {
	if u.dead.Load() {
		return
	}
	if u.locked {
		u.shard.RecordAlso(u.extra, method, name, elapsed, contentLength, err)
		return
	}
	u.shard.Record(method, name, elapsed, contentLength, err)
	if u.extra != nil {
		u.extra.Record(method, name, elapsed, contentLength, err)
	}
}

// RecordValue records a value that is not a request, such as an open loop's schedule
// lag, into the extra sink only (the extended statistics): nothing of it reaches the
// master or Locust's request totals. method must be in record's value namespace
// (record.IsValue: "~schedule_lag"); a value under any other method, or without an
// extra sink, is not recorded. Safe for concurrent use, as Record.
func (u *User) RecordValue(method, name string, v time.Duration) {
	if u.extra == nil || !record.IsValue(method) || u.dead.Load() {
		return
	}
	if u.locked {
		u.shard.RecordOnly(u.extra, method, name, v)
		return
	}
	u.extra.Record(method, name, v, 0, nil)
}

// filterTasks returns the tasks selected by Locust-style tags: with tags set, only
// tasks carrying one of them; then minus tasks carrying an excluded tag.
func filterTasks(tasks []Task, tags, exclude []string) []Task {
	if tags == nil && exclude == nil {
		return tasks
	}
	var out []Task
	for _, t := range tasks {
		if tags != nil && !slices.ContainsFunc(t.Tags, func(s string) bool { return slices.Contains(tags, s) }) {
			continue
		}
		if slices.ContainsFunc(t.Tags, func(s string) bool { return slices.Contains(exclude, s) }) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// picker chooses the next task for one user.
type picker struct {
	tasks      []Task
	cum        []int // cumulative weights
	total      int
	sequential bool
	next       int
}

func newPicker(tasks []Task, sequential bool) *picker {
	p := &picker{tasks: tasks, sequential: sequential}
	for _, t := range tasks {
		p.total += t.Weight
		p.cum = append(p.cum, p.total)
	}
	return p
}

func (p *picker) pick(r *rand.Rand) *Task {
	if len(p.tasks) == 0 {
		return nil
	}
	if p.sequential || p.total == 0 {
		t := &p.tasks[p.next]
		p.next = (p.next + 1) % len(p.tasks)
		return t
	}
	x := r.IntN(p.total)
	i, _ := slices.BinarySearch(p.cum, x+1)
	return &p.tasks[i]
}
