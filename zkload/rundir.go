package main

import (
	"fmt"

	"github.com/zkload/zkload/rundir"
)

// runRundir prints a test's file names, so that scripts name files as zkload and the
// report do (package rundir) instead of spelling them.
func runRundir(fs *flagSet, _ []string) error {
	label, worker := fs.text("test"), fs.text("worker")
	for _, kv := range [][2]string{
		{"locust_prefix", rundir.LocustPrefix(label)},
		{"locust_stats", rundir.Name(rundir.LocustStats, label, "")},
		{"locust_history", rundir.Name(rundir.LocustHistory, label, "")},
		{"locust_failures", rundir.Name(rundir.LocustFailures, label, "")},
		{"locust_exceptions", rundir.Name(rundir.LocustExceptions, label, "")},
		{"ext_stats", rundir.Name(rundir.ExtStats, label, worker)},
		{"ext_distrib", rundir.Name(rundir.ExtDistrib, label, worker)},
		{"zk_metrics", rundir.Name(rundir.ZKMetrics, label, "")},
		{"faults", rundir.Name(rundir.Faults, label, "")},
		{"log", rundir.Name(rundir.Log, label, "")},
		{"tmp", rundir.TmpDir},
	} {
		fmt.Fprintf(fs.stdout, "%s=%s\n", kv[0], kv[1])
	}
	return nil
}
