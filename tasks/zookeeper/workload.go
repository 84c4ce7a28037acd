// Package zookeeper is zkload's ZooKeeper workload: the operations and task sets of the
// Python harness zk-locust, one user class per task set, with zk-locust's settings, and
// two load models it lacked: an open loop at a fixed rate (tasks/openloop) and pipelining
// (several requests in flight per session).
//
// As in zk-locust, one user is one ZooKeeper session; all users of all workers share a
// key space under the pseudo-root (default /kl); in the stats, the method is the request
// type (get, set, exists_positive_watch, ...) and the name is the task set (set_and_get,
// or set_512_B for sized runs).
package zookeeper

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks"
	"github.com/zkload/zkload/tasks/openloop"
)

// Workload is the ZooKeeper workload: zk-locust's task sets as user classes, and its
// settings.
type Workload struct {
	// Logger receives go-zookeeper's log lines, at debug level (nil: none).
	Logger *slog.Logger
	// Plan, if set, is the worker's open-loop plan, shared with other workloads' classes
	// so that a controller steers one rate; nil: the classes share one of their own.
	Plan *openloop.Shared
}

var _ tasks.Workload = Workload{}

// Name is "ZooKeeper".
func (Workload) Name() string { return "ZooKeeper" }

// Settings are zk-locust's settings, in the order help shows them, then the open-ended
// --bench-NAME family (setting.Spec.Open).
func (Workload) Settings() []*setting.Spec {
	var out []*setting.Spec
	for _, e := range settingsTable() {
		out = append(out, &e.Spec)
	}
	return append(out, benchSpec())
}

// Check validates the values the worker itself was given (flags and environment), so
// that a bad one stops the command at once; the master's values are checked when users
// start. The ensemble may be missing here: it can come from the master.
func (Workload) Check(l setting.Layers) error { return check(l) }

// Notes says when the worker's own --max-wait is below its --min-wait: zk-locust then
// uses the minimum for both, which Resolve does too; and, for a worker given zk-locust's
// --bench-wait-disable-ms, which fault program does what that setting did.
func (Workload) Notes(l setting.Layers) []string {
	l.Master = nil
	var notes []string
	if v, ok := NewBench(l).Lookup("wait_disable_ms"); ok {
		notes = append(notes, waitDisableNote(v))
	}
	return append(notes, waitNotes(l)...)
}

// waitDisableNote answers zk-locust's ZK_LOCUST_BENCH_WAIT_DISABLE_MS: its standby
// locustfile had a dispatcher of its own that disabled the leader once, that long after
// the users were spawned. zkload's users never disrupt the ensemble: faults come from
// one fault dispatcher per test (worker 0's, or zkload run's; doc/faults.md), which
// reaches the members, guards the quorum and writes the timeline with the election
// time, where a dispatcher in the Standby class would run on every worker and record
// none of it. So the setting changes nothing, and the note gives the program that does
// what it did, with its wait.
func waitDisableNote(v setting.Value) string {
	return fmt.Sprintf("%s %s: zk-locust's standby disabled the leader once after this wait; zkload users never disable members: "+
		"give the fault dispatcher the program \"once / poll_initial_hatch_complete 100 / sleep %s / disable_leader\" "+
		"(--dispatch-program, one instruction a line; doc/faults.md)", v.Name(), v.Text, strings.TrimSpace(v.Text))
}

// waitNotes says when the worker's own --max-wait is below its --min-wait.
func waitNotes(l setting.Layers) []string {
	var minWait, maxWait setting.Value
	for _, e := range settingsTable() {
		switch e.Flag {
		case "min-wait":
			minWait = l.Get(&e.Spec)
		case "max-wait":
			maxWait = l.Get(&e.Spec)
		}
	}
	lo, err1 := minWait.Millis()
	hi, err2 := maxWait.Millis()
	if !maxWait.Given() || err1 != nil || err2 != nil || hi >= lo {
		return nil
	}
	return []string{fmt.Sprintf("%s %s is less than %s %s: the think time is %s ms (as zk-locust, the maximum is at least the minimum)",
		maxWait.Name(), maxWait.Text, minWait.Name(), minWait.Text, minWait.Text)}
}

// Classes returns one user class per zk-locust task set: Set, Get, SetAndGet,
// CreateAndDelete, Watch, Exists, ExistsMany, GetChildren, GetChildren2, Connect,
// Standby. Each
// user resolves its settings when it starts, from l and the master's options (Resolve).
// The classes of one call share one open-loop plan (--rate is per worker).
func (w Workload) Classes(l setting.Layers) []*boomer.UserClass {
	sh := &shared{pacers: w.Plan}
	if sh.pacers == nil {
		sh.pacers = &openloop.Shared{}
	}
	var out []*boomer.UserClass
	for _, ts := range TaskSets() {
		out = append(out, ts.class(w, l, sh))
	}
	return out
}

// shared is what the classes of one worker share: the open-loop pacer.
type shared struct {
	pacers *openloop.Shared
}

// CheckHost wants an ensemble when one of the ZooKeeper classes is among classes: from
// --hosts or ZK_LOCUST_HOSTS, else the host (zk://host:port,... or a host:port list).
func (Workload) CheckHost(l setting.Layers, host string, classes []string) error {
	for _, ts := range TaskSets() {
		if slices.Contains(classes, ts.Class) {
			_, err := Resolve(l, host)
			return err
		}
	}
	return nil
}

// Tests are the task sets as the suites run them, in the order zkload lists them (the
// sequence's): Suite numbers zk-locust's suite (create_and_delete first), and connect,
// outside it, has Suite 0.
func (Workload) Tests() []tasks.Test {
	var out []tasks.Test
	for _, ts := range TaskSets() {
		out = append(out, tasks.Test{Label: ts.BaseName, Class: ts.Class, Sized: ts.Sized, Suite: ts.Suite})
	}
	return out
}
