package main

import (
	"fmt"
	"io"

	"github.com/zkload/zkload/rundir"
	"github.com/zkload/zkload/setting"
)

// runRundir prints a test's file names, so that scripts name files as zkload and the
// report do (package rundir) instead of spelling them.
func runRundir(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rundir", "[options]",
		`Prints the names of a test's files in a run directory (see doc/run.md), one
"kind=name" line each, for scripts: locust_prefix (Locust's --csv prefix) and its four
files (locust_stats, locust_history, locust_failures, locust_exceptions), ext_stats,
ext_distrib (per worker), zk_metrics (the ensemble's metrics), log, and tmp (the
directory for scratch files).`, stdout, stderr)
	fs.add(groupCommon,
		&setting.Spec{Flag: "test", Arg: "LABEL", Help: "the test's label (default: the single test of zkload run --report-dir)"},
		&setting.Spec{Flag: "worker", Arg: "TAG", Help: "the worker's tag in per-worker names, or a template such as {i} (scripts/multi-worker.sh)"})
	if err := fs.parseFlagsOnly(args); err != nil {
		return err
	}
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
		{"log", rundir.Name(rundir.Log, label, "")},
		{"tmp", rundir.TmpDir},
	} {
		fmt.Fprintf(stdout, "%s=%s\n", kv[0], kv[1])
	}
	return nil
}
