package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/reports"
	"github.com/zkload/zkload/rundir"
)

// TestWorkersShareReportDir: a real master (headless, --csv into the directory) and two
// `zkload worker --report-dir D` processes sharing one D run Get against a local
// ZooKeeper, each polling the ensemble (the directory's default). `zkload report D`
// then shows one test, with both workers' extended statistics merged (its total equals
// the master's count and the sum of both ext_stats files), one set of ensemble figures
// from both workers' zk_metrics files, no problems, and no test made of a worker's
// log or run information.
func TestWorkersShareReportDir(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	e := zktest.Start(t, 1)
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := testenv.StartMaster(t, testenv.MasterOptions{
		Classes: []testenv.Class{{Name: "Get", Weight: 1}}, Headless: true, ExpectWorkers: 2,
		Users: 4, SpawnRate: 4, RunTime: "6s", CSVPrefix: filepath.Join(dir, rundir.LocustPrefix("")),
	})
	var workers []*testenv.Proc
	for range 2 {
		workers = append(workers, zkWorker(t, m, "--hosts", e.ConnectString(), "--pseudo-root", "/shared",
			"--report-dir", dir, "Get"))
	}
	if code := m.Wait(90 * time.Second); code != 0 {
		t.Fatalf("master exit code %d, want 0 (no failures)\n%s", code, m.Log())
	}
	for _, w := range workers {
		if code := w.Wait(20 * time.Second); code != 0 {
			t.Fatalf("%s: exit code %d, want 0\n%s", w.Label, code, w.Log())
		}
	}

	// Each worker wrote its own five files, named by its tag.
	infos, err := filepath.Glob(filepath.Join(dir, "worker_*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, p := range infos {
		tags = append(tags, strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "worker_"), ".json"))
	}
	if len(tags) != 2 {
		t.Fatalf("worker information files for tags %v, want 2", tags)
	}
	var extTotal int64
	for _, tag := range tags {
		for _, name := range rundir.WorkerFiles(tag) {
			if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
				t.Errorf("%s: missing or empty (%v)", name, err)
			}
		}
		for _, r := range statsRows(t, filepath.Join(dir, rundir.Name(rundir.ExtStats, "", tag)), false) {
			if r["name"] == "Total" {
				extTotal += csvInt(t, r, "num_requests")
			}
		}
	}
	master := csvInt(t, testenv.CSVAggregated(t, m.CSV("stats")), "Request Count")
	if master == 0 || extTotal != master {
		t.Errorf("the workers' ext_stats files hold %d requests, the master counted %d", extTotal, master)
	}

	log := runZkload(t, 0, "report", dir)
	if strings.Contains(log, "zkload report: ") {
		t.Errorf("zkload report names problems:\n%s", log)
	}
	out := filepath.Join(dir, "report")
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	page := reportPage(t, out)

	// One test, "run" (no run.json): its summary's total is both workers' requests.
	total := regexp.MustCompile(`(?m)^\| (.+?) \| Total \|  \| (\d+) \| (\d+) \|`).FindAllStringSubmatch(md, -1)
	if len(total) != 1 || total[0][1] != "run" {
		t.Fatalf("report.md's summary has total rows %v, want one, of test \"run\"\n%s", total, md)
	}
	if n, _ := strconv.ParseInt(total[0][2], 10, 64); n != master || total[0][3] != "0" {
		t.Errorf("the report's total is %s requests, %s failures; the master counted %d, 0", total[0][2], total[0][3], master)
	}
	sections := regexp.MustCompile(`(?m)^### (.+): ensemble$`).FindAllStringSubmatch(md, -1)
	if len(sections) != 1 || sections[0][1] != "run" {
		t.Errorf("ensemble sections %v, want one, of test \"run\"", sections)
	}
	ens := md[strings.Index(md, "### run: ensemble"):]
	if i := strings.Index(ens[1:], "\n### "); i >= 0 {
		ens = ens[:i+1]
	}
	for _, fig := range []string{"![Connections]", "![Outstanding requests]", "![Member state"} {
		if !strings.Contains(ens, fig) {
			t.Errorf("the ensemble section lacks %s:\n%s", fig, ens)
		}
	}
	for _, bad := range []string{"No ensemble metrics", "missing: ", "Problems", "worker\\_", "worker_"} {
		if strings.Contains(md, bad) {
			t.Errorf("report.md has %q", bad)
		}
	}
	if !strings.Contains(page, "Every ensemble member answered every poll.") {
		t.Error("report.html lacks the ensemble's verdict")
	}

	// The same through reports.Load: one test holding both workers' files, every
	// worker's distributions and both pollers' metrics.
	run, err := reports.Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Tests) != 1 || len(run.Problems) != 0 {
		t.Fatalf("tests %d, run problems %v; want one test, none", len(run.Tests), run.Problems)
	}
	test := run.Tests[0]
	for _, k := range []rundir.Kind{rundir.ExtStats, rundir.ExtDistrib, rundir.ZKMetrics, rundir.Log, rundir.WorkerInfo} {
		if len(test.Files[k]) != 2 {
			t.Errorf("%s files %v, want one per worker", k, test.Files[k])
		}
	}
	var clients []string
	for _, d := range test.Distrib {
		if !slices.Contains(clients, d.ClientID) {
			clients = append(clients, d.ClientID)
		}
	}
	if len(clients) != 2 {
		t.Errorf("distributions of clients %v, want both workers", clients)
	}
	rows := 0
	for _, p := range test.Files[rundir.ZKMetrics] {
		rows += len(readMetricsCSV(t, p))
	}
	if len(test.Metrics) != rows || rows == 0 {
		t.Errorf("%d metric rows loaded, the workers' files hold %d", len(test.Metrics), rows)
	}
}
