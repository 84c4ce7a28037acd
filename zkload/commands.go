package main

import (
	"io"

	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks/zookeeper"
)

// command is one zkload subcommand: its help, its settings and what it does with them.
type command struct {
	name, summary string
	// synopsis and about head its --help.
	synopsis, about string
	// define adds the command's settings to its flag set.
	define func(fs *flagSet)
	// takesArgs is set for commands that take positional arguments (user classes,
	// directories); the others refuse them.
	takesArgs bool
	// run reads the parsed settings into the command's options and runs them; args are
	// the positional arguments.
	run func(fs *flagSet, args []string) error
}

// options are a command's options, parsed and checked, ready to run.
type options interface {
	run(stdout, stderr io.Writer) error
}

// parsed makes a command's run from its parse: parse the settings into options, then
// run them.
func parsed[O options](parse func(fs *flagSet, args []string) (O, error)) func(*flagSet, []string) error {
	return func(fs *flagSet, args []string) error {
		o, err := parse(fs, args)
		if err != nil {
			return err
		}
		return o.run(fs.stdout, fs.stderr)
	}
}

// commands are zkload's subcommands, in the order `zkload --help` lists them.
func commands() []command {
	return []command{
		{name: "worker", summary: "run users for a Locust master (locust --master)", synopsis: "[options] [UserClass ...]", takesArgs: true, run: parsed(parseWorker),
			about: `Connects to a Locust master and runs the users it dispatches to the named user
classes (all of zkload's classes when none is named). The master's locustfile must
declare classes of the same names: see "zkload locustfile".`,
			define: func(fs *flagSet) {
				fs.add(groupWorker, workerSettings()...)
				defineHarness(fs, "this worker's extended statistics, ensemble metrics, output and run information, named by its node id (ext_stats_<id>.csv, ...; several workers may share it)")
				fs.add(groupFaults, dispatchSettings()...)
				fs.add(groupControl, controlSettings()...)
			}},
		{name: "run", summary: "run users here, without a master, writing Locust's console tables and CSV files", synopsis: "[options] [UserClass ...]", takesArgs: true, run: parsed(parseRun),
			about: `Runs the named user classes (all of zkload's classes when none is named) right here,
without a Locust master, and reports as a headless Locust master would: its console
tables while the test runs and at the end, and with --csv its four CSV files, with
the same columns, formatting and numbers. SIGINT or SIGTERM ends the test early; the
final CSV files and summary are still written. The exit code is 1 if any request
failed or any task raised an exception, as Locust's; 3 if the watchdog stopped the test.
A load controller (--seek, --hold, --shape, --stages) steers the load while it runs
(doc/load-control.md).`,
			define: func(fs *flagSet) {
				fs.add(groupCommon, runSettings()...)
				defineHarness(fs, "Locust's CSVs (locust_*.csv), the extended statistics, the ensemble's metrics, the faults timeline, the load controller's windows and steps, the output (zkload.log) and run.json, then the report")
				fs.add(groupFaults, dispatchSettings()...)
				fs.add(groupControl, controlSettings()...)
			}},
		{name: "locustfile", summary: "print the master-side locustfile for zkload's user classes", synopsis: "[options] [UserClass ...]", takesArgs: true, run: runLocustfile,
			about: `Prints a locustfile for the master: one Python User class per zkload user class
(all of them when none is named), with the same names and weights, so that
"locust -f <file> --master" dispatches users to zkload workers. Workload settings given
as flags become the master's defaults in the file (--hosts its Host, unless -H); secrets
and settings the master cannot pass to workers are refused.`,
			define: func(fs *flagSet) {
				addWorkloadSettings(fs)
			}},
		{name: "list", summary: "list the user classes with their tasks and weights", synopsis: "[options] [UserClass ...]", takesArgs: true, run: runList,
			about: `Lists zkload's user classes with their weights and tasks. With --suite, lists the
tests of the headless suite instead (scripts/suite.sh): one "label class" line per test,
in the suite's order, then "+ label class" for those it runs only when named; with
--sequence, the steps of zk-locust's sequence (scripts/sequence.sh), one a line.`,
			define: func(fs *flagSet) {
				fs.add(groupCommon,
					&setting.Spec{Flag: "suite", Bool: true, Help: "list the suite's tests: label and class, one a line"},
					&setting.Spec{Flag: "sequence", Bool: true, Help: "list the sequence's steps (label:size for sized tests), one a line"})
				addWorkloadSettings(fs)
			}},
		{name: "ensemble", summary: "run a local ZooKeeper ensemble on loopback (Debian's zookeeper)", synopsis: "[options]", takesArgs: false, run: runEnsemble,
			about: `Runs a local ZooKeeper ensemble from Debian's zookeeper package on free loopback
ports (4-letter words and the AdminServer enabled), for trying zkload or as the
embedded default of "make". It prints "connect: <connect string>" once every member
serves, and stops the members on SIGINT/SIGTERM.`,
			define: func(fs *flagSet) {
				fs.add(groupCommon,
					&setting.Spec{Flag: "members", Default: "1", Arg: "N", Help: "number of members: 1 (standalone), 3 or 5", Expect: "1, 3 or 5"},
					&setting.Spec{Flag: "dir", Default: "out/zk", Arg: "DIR", Help: "directory for the members' configs, data and logs"},
					&setting.Spec{Flag: "start-timeout", Default: "60s", Arg: "DURATION", Help: "how long the members may take to serve", Expect: "a positive duration such as 60s"},
					&setting.Spec{Flag: "partitions", Default: "false", Bool: true, Expect: "true or false",
						Help: "let fault programs cut a member off from the others (partition IDX): Linux, root and nft; loopback traffic then goes through conntrack"})
			}},
		{name: "serve", summary: "serve a tiny HTTP target on loopback, counting requests", synopsis: "[options]", takesArgs: false, run: runServe,
			about: `Serves a tiny HTTP target for trying zkload: every path answers 200 "ok" and the
requests are counted. It prints the address it listens on, and the number of requests
it served when it stops (SIGINT/SIGTERM). With --capacity N it serves N requests a
second, evenly spaced, and the others wait their turn (first come, first served; at
most --queue wait, one more is refused with 503 "queue full"): a target whose capacity
is known by construction, for the load controller (doc/load-control.md).`,
			define: func(fs *flagSet) {
				fs.add(groupCommon, &setting.Spec{Flag: "listen", Default: "127.0.0.1:0", Arg: "ADDR", Help: "address to listen on"},
					&setting.Spec{Flag: "capacity", Default: "0", Arg: "N", Expect: "requests per second, 0 (no limit) to 1e9",
						Help: "serve at most N requests a second, evenly spaced; the others wait their turn (0: no limit)"},
					&setting.Spec{Flag: "queue", Default: "10000", Arg: "N", Expect: "a number of requests, 1 or more",
						Help: "with --capacity, how many requests may wait; one more is refused (503 queue full)"})
			}},
		{name: "cleanup", summary: "delete what the ZooKeeper workloads left under the pseudo-root", synopsis: "[options]", takesArgs: false, run: runCleanup,
			about: `Deletes what the ZooKeeper workloads leave behind: the pseudo-root (default /kl)
and everything under it (shared keys c-*, leftover d-* and sequential nodes), and nothing
else. Refuses "/" and /zookeeper. The ensemble and credentials are the workers' settings:
--hosts or ZK_LOCUST_HOSTS, --pseudo-root or ZK_LOCUST_PSEUDO_ROOT, --digest, ...`,
			define: func(fs *flagSet) {
				w := zookeeper.Workload{}
				fs.add(w.Name()+groupWorkload, w.Settings()...)
			}},
		{name: "metrics", summary: "poll every ensemble member's metrics into a long-form CSV", synopsis: "[options]", takesArgs: false, run: parsed(parseMetrics),
			about: `Polls every member of a ZooKeeper ensemble at an interval and writes their metrics
to a long-form CSV (timestamp,host_port,server_state,metric,value): every key of
every member, counters also as <metric>_per_sec rates, and an error row for a member
that does not answer. Sources: the AdminServer's /commands/monitor, mntr on the
client port, or the Prometheus provider's /metrics; auto tries them in that order.
A progress line per change goes to stderr. Stops on SIGINT/SIGTERM or after --run-time.
See doc/metrics.md.`,
			define: func(fs *flagSet) {
				fs.add(groupMetrics, metricsCommandSettings()...)
			}},
		{name: "report", summary: "turn report directories into report.html and report.md with plots", synopsis: "[--out DIR] [--label LABEL ...] RUNDIR...", takesArgs: true, run: runReport,
			about: "Turns one or more run directories (Locust's CSVs, zkload's extended statistics and\n" +
				"distributions of every worker, ensemble metrics, run.json) into DIR/report.html (one\n" +
				"self-contained file) and DIR/report.md with its figures in DIR/figures/. Several run\n" +
				"directories give a comparison too. A load controller's capacity (zkload run --seek) is\n" +
				"printed, and with --fail-on-capacity-drop the report exits 4 when a test's capacity in\n" +
				"the last run dropped by more than the share from the first (the baseline): a\n" +
				"regression gate for CI. See doc/report.md.",
			define: func(fs *flagSet) {
				fs.add(groupCommon,
					&setting.Spec{Flag: "out", Arg: "DIR", Help: "output directory (default: RUNDIR/report for one run, report for several)"},
					&setting.Spec{Flag: "label", Arg: "LABEL", Help: "a run directory's label in the comparison, once per RUNDIR in order (or comma-separated)"},
					&setting.Spec{Flag: "fail-on-capacity-drop", Arg: "SHARE", Help: "exit 4 when a test's capacity in the last RUNDIR dropped by more than SHARE (0.1 or 10%) from the first's, the baseline (the report is written all the same)",
						Expect: "a share from 0 up to 1, such as 0.1 or 10%"})
				fs.repeatable("label")
			}},
		{name: "runinfo", summary: "write a run.json, as run --report-dir does, for scripted runs (scripts/suite.sh)", synopsis: "[options] [-- command ...]", takesArgs: true, run: runRuninfo,
			about: `Writes run.json (see doc/run.md): the command after --, start and end times, settings,
versions (zkload, Go, Locust's "locust --version", ZooKeeper's from srvr on the
ensemble), the ensemble and the tests. scripts/suite.sh uses it with REPORT_DIR.
The ZooKeeper settings of the environment (ZK_LOCUST_*, secrets left out) are added
to the settings.`,
			define: func(fs *flagSet) {
				fs.add(groupCommon,
					&setting.Spec{Flag: "out", Default: "-", Arg: "FILE", Help: "file to write, - for stdout"},
					&setting.Spec{Flag: "start", Arg: "TIME", Help: "start time, RFC 3339 (default: now)", Expect: "an RFC 3339 time such as 2026-01-02T15:04:05Z"},
					&setting.Spec{Flag: "end", Arg: "TIME", Help: "end time, RFC 3339 (default: now)", Expect: "an RFC 3339 time such as 2026-01-02T15:04:05Z"},
					&setting.Spec{Flag: "ensemble", Arg: "HOSTS", Help: "the ensemble's connect string"},
					&setting.Spec{Flag: "tests", Arg: "LIST", Help: "the tests, separated by spaces or commas"},
					&setting.Spec{Flag: "setting", Arg: "NAME=VALUE", Help: "a setting (repeatable)"})
				fs.repeatable("setting")
			}},
		{name: "rundir", summary: "print the names of a test's files in a run directory, for scripts (scripts/suite.sh)", synopsis: "[options]", takesArgs: false, run: runRundir,
			about: `Prints the names of a test's files in a run directory (see doc/run.md), one
"kind=name" line each, for scripts: locust_prefix (Locust's --csv prefix) and its four
files (locust_stats, locust_history, locust_failures, locust_exceptions), ext_stats,
ext_distrib (per worker), zk_metrics (the ensemble's metrics), log, and tmp (the
directory for scratch files).`,
			define: func(fs *flagSet) {
				fs.add(groupCommon,
					&setting.Spec{Flag: "test", Arg: "LABEL", Help: "the test's label (default: the single test of zkload run --report-dir)"},
					&setting.Spec{Flag: "worker", Arg: "TAG", Help: "the worker's tag in per-worker names, or a template such as {i} (scripts/multi-worker.sh)"})
			}},
	}
}
