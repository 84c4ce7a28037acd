package main

import (
	"strings"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks"
	"github.com/zkload/zkload/tasks/httpload"
	"github.com/zkload/zkload/tasks/openloop"
	"github.com/zkload/zkload/tasks/zookeeper"
)

// workloads are zkload's workloads, in the order help and `zkload list` show them. A
// new workload is a package under tasks/ and one line here.
func workloads() []tasks.Workload { return workloadsWith(nil) }

// workloadsWith are the workloads whose classes pace their users with plan, one
// open-loop plan for all (a controller steers its rate); nil: each its own.
func workloadsWith(plan *openloop.Shared) []tasks.Workload {
	return []tasks.Workload{httpload.Workload{Plan: plan}, zookeeper.Workload{Plan: plan}}
}

// addWorkloadSettings defines every workload's settings as flags, each workload in
// its own help group.
func addWorkloadSettings(fs *flagSet) {
	for _, w := range workloads() {
		for _, s := range w.Settings() {
			s := *s
			s.Group = w.Name() + groupWorkload
			fs.add("", &s)
		}
	}
	fs.repeatable("http-header")
}

// workloadOptions are the user classes a command runs, built from the workloads'
// settings.
type workloadOptions struct {
	// plan, if set before parse, is the one open-loop plan of every class.
	plan    *openloop.Shared
	layers  setting.Layers
	classes []*boomer.UserClass
	notes   []string // the workloads' Notes, logged at start
}

// parse checks every workload's settings and picks the classes named on the command
// line (all of them when none is).
func (o *workloadOptions) parse(fs *flagSet, names []string) error {
	o.layers = fs.layers()
	var all []*boomer.UserClass
	for _, w := range workloadsWith(o.plan) {
		if err := w.Check(o.layers); err != nil {
			return fs.check(err)
		}
		o.notes = append(o.notes, w.Notes(o.layers)...)
		all = append(all, w.Classes(o.layers)...)
	}
	var err error
	o.classes, err = selectClasses(fs, all, names)
	return err
}

// checkHost checks the host the test will load against the classes it runs (for a
// worker without --host, the master's arrives with the test, and is not checked).
func (o *workloadOptions) checkHost(fs *flagSet, host string) error {
	names := classNames(o.classes)
	for _, w := range workloads() {
		if err := w.CheckHost(o.layers, host, names); err != nil {
			return fs.fail("%v", err)
		}
	}
	return nil
}

// classNames lists the classes' names, in order.
func classNames(classes []*boomer.UserClass) []string {
	names := make([]string, 0, len(classes))
	for _, c := range classes {
		names = append(names, c.Name)
	}
	return names
}

// selectClasses picks the classes named on the command line (all when none is named).
func selectClasses(fs *flagSet, all []*boomer.UserClass, names []string) ([]*boomer.UserClass, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []*boomer.UserClass
	seen := map[string]bool{}
	for _, n := range names {
		var found *boomer.UserClass
		for _, c := range all {
			if strings.EqualFold(c.Name, n) {
				found = c
			}
		}
		if found == nil {
			return nil, fs.fail("unknown user class %q; want one of: %s (see zkload list)", n, strings.Join(classNames(all), ", "))
		}
		if !seen[found.Name] {
			seen[found.Name] = true
			out = append(out, found)
		}
	}
	return out, nil
}

// secretSettings are the flags and environment variables whose values never go to
// run.json, logs or the master.
func secretSettings() map[string]bool {
	s := map[string]bool{}
	for _, w := range workloads() {
		for _, st := range w.Settings() {
			if st.Secret {
				s[st.Flag] = true
				s[st.Env] = true
			}
		}
	}
	return s
}
