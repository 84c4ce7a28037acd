// Package tasks holds zkload's workloads, one package each (tasks/httpload, tasks/zookeeper),
// and the small interface through which the zkload command sees them all.
package tasks

import (
	"sort"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/setting"
)

// Workload is one kind of load zkload generates (HTTP, ZooKeeper): its user classes and
// their settings. The zkload command iterates over its workloads for flags and help,
// validation, `zkload list`, the master's locustfile and what run.json must not show,
// so that a new workload is one package plus one line in zkload's list.
type Workload interface {
	// Name names the workload ("HTTP", "ZooKeeper"); help lists its settings under it.
	Name() string
	// Settings are the workload's settings, in the order help shows them.
	Settings() []*setting.Spec
	// Check validates the worker's own settings (flags and environment) before anything
	// starts; the error names the input and what is expected, in one line.
	Check(l setting.Layers) error
	// Notes says, one line each, where a valid combination of the worker's own settings
	// (flags and environment) is not used as given, and what is used instead, for the
	// command to log once at start; nil when there is nothing to say.
	Notes(l setting.Layers) []string
	// Classes returns the workload's user classes built from the worker's own settings;
	// settings the master may give are applied when a test starts (its parsed options).
	Classes(l setting.Layers) []*boomer.UserClass
	// CheckHost checks the host a test will load (zkload run's -H, a worker's --host;
	// "" for none) against the workload's classes among classes, before anything
	// starts; nil when none of them is the workload's. (A worker without --host gets
	// its host from the master when a test starts, and does not ask.)
	CheckHost(l setting.Layers, host string, classes []string) error
	// Tests are the workload's classes as the suites run them (`zkload list --suite`),
	// in the workload's own order, which zk-locust's sequence follows (its sized tests at
	// each value size, then its other tests of the default suite); DefaultSuite orders
	// them as the default suite runs them. Nil when the suites do not run this workload.
	Tests() []Test
	// Locustfile returns what the master's locustfile needs beside the class
	// declarations (its custom options), when classes holds one of this workload's
	// class names; "" otherwise. The settings given as flags (l.Flags, checked by Check)
	// become the master's defaults; one the master cannot carry (a secret, or a setting
	// without a master option) is an error naming it, in one line.
	Locustfile(classes []string, l setting.Layers) (string, error)
}

// Test is one class as the suites run it.
type Test struct {
	// Label names the test's files and rows ("create_and_delete").
	Label string
	// Class is the user class the test runs ("CreateAndDelete").
	Class string
	// Sized tests take a value size (set:512), which their label then carries
	// (set_512_B), and run at each of the sequence's sizes.
	Sized bool
	// Suite is the test's place in the default suite, from 1; 0 for a test the suites
	// run only when named (connect).
	Suite int
}

// DefaultSuite returns the tests the suites run when none is named, in their order.
func DefaultSuite(tests []Test) []Test {
	var out []Test
	for _, t := range tests {
		if t.Suite > 0 {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Suite < out[j].Suite })
	return out
}
