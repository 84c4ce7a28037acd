// Package tasks holds zkload's workloads, one package each (tasks/http, tasks/zookeeper),
// and the small interface through which the zkload command sees them all.
package tasks

import (
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
	// Classes returns the workload's user classes built from the worker's own settings;
	// settings the master may give are applied when a test starts (its parsed options).
	Classes(l setting.Layers) []*boomer.UserClass
	// Tests are the workload's classes as the suites run them (`zkload list --suite`),
	// in the suites' order; nil when the suites do not run this workload.
	Tests() []Test
	// Locustfile returns what the master's locustfile needs beside the class
	// declarations (its custom options), when classes holds one of this workload's
	// class names; "" otherwise.
	Locustfile(classes []string) string
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
}
