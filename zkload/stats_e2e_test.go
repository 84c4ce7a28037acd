package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/stats"
)

// statsRows reads a worker's --stats-csv file into maps; a last line cut by a kill may
// be dropped (allowPartial).
func statsRows(t *testing.T, path string, allowPartial bool) []map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if allowPartial {
		if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
			b = b[:i+1]
		}
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(stats.Columns(), ",") {
		t.Fatalf("%s: bad header", path)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, c := range recs[0] {
			m[c] = r[i]
		}
		out = append(out, m)
	}
	return out
}

func statsNum(t *testing.T, row map[string]string, col string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(row[col], 64)
	if err != nil {
		t.Fatalf("column %s %q: %v", col, row[col], err)
	}
	return v
}

// TestWorkerExtendedStats: two workers with --stats-collect 500 under a headless master.
// Each worker's windows add up to its cumulative count and to what it reported to the
// master; the two distribution files merge into exactly what the target served.
func TestWorkerExtendedStats(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
	m := testenv.StartMaster(t, testenv.MasterOptions{
		Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 2,
		Users: 4, SpawnRate: 4, RunTime: "4s", CSVPrefix: "run", Host: target.URL,
	})
	dir := t.TempDir()
	var procs []*testenv.Proc
	for i := range 2 {
		procs = append(procs, startWorker(t, m, "--stats-collect", "500",
			"--stats-csv", filepath.Join(dir, "s"+strconv.Itoa(i)+".csv"),
			"--stats-distrib", filepath.Join(dir, "d"+strconv.Itoa(i)+".jsonl")))
	}
	if code := m.Wait(60 * time.Second); code != 0 {
		t.Fatalf("master exit code %d\n%s", code, m.Log())
	}
	var all []stats.Distribution
	var reportedSum int64
	clients := map[string]bool{}
	for i, w := range procs {
		if code := w.Wait(10 * time.Second); code != 0 {
			t.Fatalf("%s exit code %d\n%s", w.Label, code, w.Log())
		}
		reported, _ := workerReported(t, w)
		reportedSum += reported
		rows := statsRows(t, filepath.Join(dir, "s"+strconv.Itoa(i)+".csv"), false)
		var windows, lastCum float64
		var sawUsers bool
		for _, r := range rows {
			if r["name"] != "Total" {
				if r["method"] != "GET" || r["name"] != "/" {
					t.Errorf("unexpected entry %q %q", r["method"], r["name"])
				}
				continue
			}
			windows += statsNum(t, r, "num_requests")
			lastCum = statsNum(t, r, "cum_num_requests")
			sawUsers = sawUsers || statsNum(t, r, "user_count") > 0
			if p50 := statsNum(t, r, "50%"); p50 < 2 {
				t.Errorf("windowed p50 %.3f ms under the target's 2 ms delay", p50)
			}
			clients[r["client_id"]] = true
			if !strings.Contains(w.Log(), r["client_id"]) {
				t.Errorf("client_id %q is not the worker's node id", r["client_id"])
			}
		}
		if len(rows) < 8 || !sawUsers {
			t.Errorf("worker %d: %d rows (want about 2 per 500 ms over 4 s), users seen %v", i, len(rows), sawUsers)
		}
		if int64(windows) != reported || int64(lastCum) != reported {
			t.Errorf("worker %d: windows sum to %v, last cumulative %v, reported to the master %d", i, windows, lastCum, reported)
		}
		ds, err := stats.ReadDistributions(filepath.Join(dir, "d"+strconv.Itoa(i)+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ds...)
	}
	if len(clients) != 2 {
		t.Errorf("client ids %v, want 2 distinct", clients)
	}
	merged := stats.Merge(all)
	served := target.Total()
	if tot := merged[stats.TotalKey]; served == 0 || tot.Requests != served || reportedSum != served {
		t.Errorf("target served %d, merged distributions hold %d, workers reported %d", served, tot.Requests, reportedSum)
	}
	if get := merged[stats.Key{Method: "GET", Name: "/"}]; get == nil || get.Requests != served || get.Percentile(50) < 2000 {
		t.Errorf("merged GET / entry %+v", get)
	}
}

// TestWorkerStatsKilled: a worker killed with SIGKILL leaves files that parse, with
// every interval it wrote.
func TestWorkerStatsKilled(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: time.Millisecond})
	m := testenv.StartMaster(t, testenv.MasterOptions{Locustfile: httpLocustfile(t), Host: target.URL})
	dir := t.TempDir()
	csvPath, distPath := filepath.Join(dir, "s.csv"), filepath.Join(dir, "d.jsonl")
	w := startWorker(t, m, "--stats-collect", "200", "--stats-csv", csvPath, "--stats-distrib", distPath)
	m.WaitReadyWorkers(1, 20*time.Second)
	m.Swarm(2, 2, "")
	w.WaitLog(`counts=map\[Http:2\]`, 20*time.Second)
	time.Sleep(1500 * time.Millisecond)
	w.Kill()
	w.Wait(5 * time.Second)
	rows := statsRows(t, csvPath, true)
	ds, err := stats.ReadDistributions(distPath)
	if err != nil {
		t.Fatal(err)
	}
	var totals int
	for _, r := range rows {
		if r["name"] == "Total" {
			totals++
		}
	}
	if totals < 4 || len(ds) < 2*4 {
		t.Errorf("after 1.5 s at 200 ms: %d Total rows and %d distributions", totals, len(ds))
	}
}

// TestStatsFlagErrors: bad extended-stats settings give one line naming the setting.
func TestStatsFlagErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--stats-collect", "fast", "--stats-csv", "x"}, nil, `--stats-collect "fast": want milliseconds`},
		{[]string{"--stats-csv", filepath.Join(dir, "a.csv")}, nil, "--stats-csv needs --stats-collect MS"},
		{[]string{"--stats-collect", "500"}, nil, "--stats-collect 500: give --stats-csv FILE"},
		{nil, []string{"LOCUST_EXTRA_STATS_COLLECT=-1"}, `LOCUST_EXTRA_STATS_COLLECT "-1"`},
		{[]string{"--stats-collect", "500", "--stats-distrib", filepath.Join(dir, "no", "d.jsonl")}, nil, "--stats-distrib: open "},
	} {
		args := append([]string{"worker"}, tc.args...)
		p := testenv.StartProcess(t, zkloadBin, args, tc.env)
		code := p.Wait(10 * time.Second)
		out := strings.TrimSpace(p.Log())
		if code != 2 || strings.Count(out, "\n") != 0 || !strings.Contains(out, tc.want) {
			t.Errorf("zkload %s (env %v): exit %d, output %q; want exit 2 and one line with %q", strings.Join(args, " "), tc.env, code, out, tc.want)
		}
	}
}
