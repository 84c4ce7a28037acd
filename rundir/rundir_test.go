package rundir

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var allKinds = []Kind{LocustStats, LocustHistory, LocustFailures, LocustExceptions, ExtStats, ExtDistrib, ZKMetrics, Log, WorkerInfo}

// TestNameClassifyRoundTrip: every name Name gives is classified back to its label and
// kind, for the single test and labelled ones, whole-run and per-worker files.
func TestNameClassifyRoundTrip(t *testing.T) {
	for _, label := range []string{"", "get", "get_children2", "create_and_delete_8.0_KiB", "set_512_B"} {
		for _, worker := range []string{"", "0", "host-a_1f2e3d4c"} {
			for _, k := range allKinds {
				if k == WorkerInfo && (label != "" || worker == "") {
					continue // only a worker in a shared directory writes one
				}
				name := Name(k, label, worker)
				l, kind, ok := Classify(name)
				wantLabel := label
				if !ok || kind != k || l != wantLabel {
					t.Errorf("Classify(Name(%s, %q, %q) = %q) = %q, %s, %v; want %q, %s", k, label, worker, name, l, kind, ok, wantLabel, k)
				}
			}
		}
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct {
		k             Kind
		label, worker string
		want          string
	}{
		{LocustStats, "", "", "locust_stats.csv"},
		{LocustHistory, "get", "0", "get_stats_history.csv"},
		{ExtStats, "get", "{i}", "get_ext_stats_{i}.csv"},
		{ExtDistrib, "", "h_1", "ext_distrib_h_1.jsonl"},
		{ZKMetrics, "set", "", "set_zk_metrics.csv"},
		{ZKMetrics, "", "h_1", "zk_metrics_h_1.csv"},
		{Log, "", "", "zkload.log"},
		{Log, "", "h_1", "worker_h_1.log"},
		{Log, "watch", "", "watch.log"},
		{WorkerInfo, "", "h_1", "worker_h_1.json"},
	} {
		if got := Name(c.k, c.label, c.worker); got != c.want {
			t.Errorf("Name(%s, %q, %q) = %q, want %q", c.k, c.label, c.worker, got, c.want)
		}
	}
}

// TestDiscoverWorkersSharingADirectory: two workers' files (and nothing of a master)
// make one test, with both workers' statistics and metrics, and no test of logs.
func TestDiscoverWorkersSharingADirectory(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for _, w := range []string{"a_1", "b_2"} {
		names = append(names, WorkerFiles(w)...)
	}
	names = append(names, "notes.txt", "run.json")
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, TmpDir), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := func(ns ...string) []string {
		for i, n := range ns {
			ns[i] = filepath.Join(dir, n)
		}
		return ns
	}
	want := map[string]Files{"": {
		ExtStats:   p("ext_stats_a_1.csv", "ext_stats_b_2.csv"),
		ExtDistrib: p("ext_distrib_a_1.jsonl", "ext_distrib_b_2.jsonl"),
		ZKMetrics:  p("zk_metrics_a_1.csv", "zk_metrics_b_2.csv"),
		Log:        p("worker_a_1.log", "worker_b_2.log"),
		WorkerInfo: p("worker_a_1.json", "worker_b_2.json"),
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover =\n%v\nwant\n%v", got, want)
	}
}

// TestDiscoverSuite: a suite's labelled tests stay apart ("get" does not take
// get_children's files) and a log alone is no test.
func TestDiscoverSuite(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"get_stats.csv", "get_ext_stats_0.csv", "get_children_stats.csv", "get_children_ext_stats_1.csv",
		"get_children_zk_metrics.csv", "get.log", "get_children.log", "stray.log"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Discover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got["get"]) != 3 || len(got["get_children"]) != 4 {
		t.Errorf("Discover = %v; want the tests get (3 kinds) and get_children (4 kinds)", got)
	}
}
