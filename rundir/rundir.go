// Package rundir owns the run directory: the name of every file a run writes (Locust's
// CSVs, the extended statistics and distributions, the ensemble's metrics, logs,
// run.json) and how to find them again. `zkload run`, `zkload worker`, the suites
// (through `zkload rundir`) and the report all name files here, so that what one
// writes the other finds (doc/run.md, "One directory per run").
//
// A directory holds one test or several. A test's files carry its label as a prefix
// ("get_stats.csv", "get_ext_stats_0.csv"); the single test of `zkload run
// --report-dir` or of workers writing into a shared directory has the empty label
// ("locust_stats.csv", "ext_stats_<worker>.csv"). A file written by one worker of
// several carries the worker's tag as a suffix.
package rundir

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
)

// Kind is a kind of file of a test.
type Kind string

// The kinds of file a test has.
const (
	LocustStats      Kind = "locust_stats"      // Locust's <prefix>_stats.csv
	LocustHistory    Kind = "locust_history"    // Locust's <prefix>_stats_history.csv
	LocustFailures   Kind = "locust_failures"   // Locust's <prefix>_failures.csv
	LocustExceptions Kind = "locust_exceptions" // Locust's <prefix>_exceptions.csv
	ExtStats         Kind = "ext_stats"         // extended statistics, a time series per worker
	ExtDistrib       Kind = "ext_distrib"       // HDR distributions per worker, JSON Lines
	ZKMetrics        Kind = "zk_metrics"        // the ensemble's metrics, per poller
	Log              Kind = "log"               // a command's output
	WorkerInfo       Kind = "worker_info"       // a worker's run information (run.json's schema)
	Faults           Kind = "faults"            // the faults timeline: one row per action on the ensemble
	Control          Kind = "control"           // the load controller: one row per window, what it saw and decided
	Capacity         Kind = "capacity"          // a seek's steps: the curve of offered against achieved load
)

// Describe says what a kind is, with its file name pattern, for a report's "missing"
// lines.
func Describe(k Kind) string {
	switch k {
	case LocustStats:
		return "Locust stats (<label>_stats.csv)"
	case LocustHistory:
		return "Locust stats history (<label>_stats_history.csv)"
	case LocustFailures:
		return "Locust failures (<label>_failures.csv)"
	case LocustExceptions:
		return "Locust exceptions (<label>_exceptions.csv)"
	case ExtStats:
		return "extended stats (<label>_ext_stats_<worker>.csv)"
	case ExtDistrib:
		return "distributions (<label>_ext_distrib_<worker>.jsonl)"
	case ZKMetrics:
		return "ensemble metrics (<label>_zk_metrics.csv)"
	case Log:
		return "output (<label>.log)"
	case WorkerInfo:
		return "worker information (worker_<worker>.json)"
	case Faults:
		return "faults timeline (<label>_faults.csv)"
	case Control:
		return "load controller (<label>_control.csv)"
	case Capacity:
		return "capacity search (<label>_capacity.csv)"
	}
	return string(k)
}

// File names of the directory as a whole.
const (
	// Info is run.json: how the run was made (the Info type).
	Info = "run.json"
	// RunLog is the output of `zkload run --report-dir`.
	RunLog = "zkload.log"
	// locustPrefix is the --csv prefix of the unlabelled test.
	locustPrefix = "locust"
	// TmpDir holds the suites' scratch files (locustfiles, per-test logs of helpers).
	TmpDir = "tmp"
)

// Name returns the file name of a kind for a test label ("" for the single test) and
// a worker tag ("" for a file of the whole run; a template such as "{i}" is kept as
// is). For the Locust kinds, the worker is ignored. Name(Log, "", w) is a worker's
// log, Name(Log, "", "") the run's.
func Name(k Kind, label, worker string) string {
	pre := ""
	if label != "" {
		pre = label + "_"
	}
	suf := ""
	if worker != "" {
		suf = "_" + worker
	}
	switch k {
	case LocustStats, LocustHistory, LocustFailures, LocustExceptions:
		return LocustPrefix(label) + "_" + map[Kind]string{LocustStats: "stats.csv", LocustHistory: "stats_history.csv",
			LocustFailures: "failures.csv", LocustExceptions: "exceptions.csv"}[k]
	case ExtStats:
		return pre + "ext_stats" + suf + ".csv"
	case ExtDistrib:
		return pre + "ext_distrib" + suf + ".jsonl"
	case ZKMetrics:
		return pre + "zk_metrics" + suf + ".csv"
	case Log:
		switch {
		case label != "":
			return label + ".log"
		case worker != "":
			return "worker" + suf + ".log"
		}
		return RunLog
	case WorkerInfo:
		return "worker" + suf + ".json"
	case Faults:
		return pre + "faults.csv"
	case Control:
		return pre + "control.csv"
	case Capacity:
		return pre + "capacity.csv"
	}
	return ""
}

// LocustPrefix is the --csv prefix (a file name, without the directory) of a test's
// Locust CSV files.
func LocustPrefix(label string) string {
	if label == "" {
		return locustPrefix
	}
	return label
}

// WorkerFiles are the names a worker writes into a directory it may share with other
// workers.
func WorkerFiles(worker string) []string {
	return []string{Name(ExtStats, "", worker), Name(ExtDistrib, "", worker), Name(ZKMetrics, "", worker),
		Name(Log, "", worker), Name(WorkerInfo, "", worker)}
}

// patterns map a file name to its test label and kind, most specific first.
var patterns = []struct {
	re   *regexp.Regexp
	kind Kind
}{
	{regexp.MustCompile(`^worker_[^.]+\.log$`), Log},
	{regexp.MustCompile(`^worker_[^.]+\.json$`), WorkerInfo},
	{regexp.MustCompile(`^(?:(.+)_)?ext_stats(?:_[^.]*)?\.csv$`), ExtStats},
	{regexp.MustCompile(`^(?:(.+)_)?ext_distrib(?:_[^.]*)?\.jsonl$`), ExtDistrib},
	{regexp.MustCompile(`^(?:(.+)_)?zk_metrics(?:_[^.]*)?\.csv$`), ZKMetrics},
	{regexp.MustCompile(`^(?:(.+)_)?faults\.csv$`), Faults},
	{regexp.MustCompile(`^(?:(.+)_)?control\.csv$`), Control},
	{regexp.MustCompile(`^(?:(.+)_)?capacity\.csv$`), Capacity},
	{regexp.MustCompile(`^(.+)_stats_history\.csv$`), LocustHistory},
	{regexp.MustCompile(`^(.+)_stats\.csv$`), LocustStats},
	{regexp.MustCompile(`^(.+)_failures\.csv$`), LocustFailures},
	{regexp.MustCompile(`^(.+)_exceptions\.csv$`), LocustExceptions},
	{regexp.MustCompile(`^(.+)\.log$`), Log},
}

// Classify returns a file name's test label and kind; ok is false for a file that is
// none of a test's.
func Classify(name string) (label string, kind Kind, ok bool) {
	for _, p := range patterns {
		m := p.re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if len(m) > 1 {
			label = m[1]
		}
		if label == locustPrefix || name == RunLog {
			label = "" // the unlabelled test: locust_stats.csv, zkload.log
		}
		return label, p.kind, true
	}
	return "", "", false
}

// Files are a test's files by kind, each list sorted (one file per worker for the
// per-worker kinds).
type Files map[Kind][]string

// Discover groups the files of dir by test label. A label with only logs or worker
// information is no test and is left out.
func Discover(dir string) (map[string]Files, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Files)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		label, kind, ok := Classify(e.Name())
		if !ok {
			continue
		}
		if out[label] == nil {
			out[label] = make(Files)
		}
		out[label][kind] = append(out[label][kind], filepath.Join(dir, e.Name()))
	}
	for label, files := range out {
		data := false
		for k, v := range files {
			sort.Strings(v)
			data = data || (k != Log && k != WorkerInfo)
		}
		if !data {
			delete(out, label)
		}
	}
	return out, nil
}
