package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/pyfmt"
)

// mixedHTTPLocustfile writes the master's locustfile for a fleet of Python and zkload
// workers: what `zkload locustfile Http` prints, with its stub Http class replaced by
// Locust's own HttpUser that GETs path as fast as the target answers, as zkload's Http
// class does with --http-path path. Both kinds of worker then run the class "Http".
func mixedHTTPLocustfile(t *testing.T, path string) string {
	t.Helper()
	out := runZkload(t, 0, "locustfile", "Http")
	start := strings.Index(out, "class Http(User):")
	end := strings.Index(out[max(start, 0):], "\n# ")
	if start < 0 || end < 0 {
		t.Fatalf("no stub class Http in zkload's locustfile:\n%s", out)
	}
	class := `from locust import HttpUser


class Http(HttpUser):
    "GET ` + path + ` with Locust's HttpUser, beside zkload workers' Http"
    weight = 1
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get(` + pyfmt.Repr(path) + `)

`
	lf := filepath.Join(t.TempDir(), "mixed_locustfile.py")
	if err := os.WriteFile(lf, []byte(out[:start]+class+out[start+end:]), 0o644); err != nil {
		t.Fatal(err)
	}
	return lf
}

// oldWorkerRx is what Locust 2.12.1's master logs for a worker whose version string
// is empty, as Debian's own Python workers' is.
const oldWorkerRx = `An old \(pre 2\.0\) worker tried to connect`

// pythonSpawnRx is a Python worker's debug line for a spawn: the users per class it
// adds, and those it already runs.
var pythonSpawnRx = regexp.MustCompile(`Spawning additional (\{.*?\}) \((\{.*?\}) already running\)`)

// TestMixedFleetWithPythonWorker: one Locust master, one of Locust's own Python workers
// running HttpUser, one zkload worker running Http, both against the same path of a
// target that fails one request in five. The master counts every request zkload's
// worker sent and all but the few a Python worker drops when it is stopped; its
// failures are one row whose occurrences sum both workers' (the texts are the same);
// each worker runs the users the master dispatched to it.
func TestMixedFleetWithPythonWorker(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		const path, users, every = "/mixed", 4, 5
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 5 * time.Millisecond,
			Status: map[string]int{path: 500}, StatusEvery: map[string]int{path: every}})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l,
			Locustfile: mixedHTTPLocustfile(t, path), Headless: true, ExpectWorkers: 2,
			Users: users, SpawnRate: users, RunTime: "5s", CSVPrefix: "run", Host: target.URL,
		})
		py := testenv.StartPythonWorker(t, l, m.Opts.Locustfile, m.MasterPort, "--loglevel", "DEBUG")
		ready := `reported as ready\. 1 workers connected`
		seen := m.WaitLog(ready+"|"+oldWorkerRx, 30*time.Second)
		if regexp.MustCompile(oldWorkerRx).MatchString(seen) {
			t.Skipf("Locust %s's master refuses its own Python workers (their version string is empty: %q)", l.Version, seen)
		}
		zk := startWorker(t, m, "--http-path", path)
		if code := m.Wait(60 * time.Second); code != 1 {
			t.Fatalf("master exit code %d, want 1 (failures were recorded)\n%s", code, m.Log())
		}
		for _, w := range []*testenv.Proc{py, zk} {
			if code := w.Wait(15 * time.Second); code != 0 {
				t.Errorf("%s exit code %d, want 0", w.Label, code)
			}
		}
		for _, p := range []*testenv.Proc{m.Proc, py} {
			for _, bad := range []string{"Traceback", "Uncaught exception"} {
				if p.LogContains(regexp.QuoteMeta(bad)) {
					t.Errorf("%s's log has %q:\n%s", p.Label, bad, p.Log())
				}
			}
		}

		// Users: the master dispatched 4 in all, 2 to each worker, and each runs 2.
		if !m.LogContains(`All users spawned: .*"Http": 4.*\(4 total users\)`) {
			t.Errorf("the master never reported 4 spawned users:\n%s", strings.Join(m.LogLines("spawn"), "\n"))
		}
		if lines := zk.LogLines(`spawned users`); len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "counts=map[Http:2]") {
			t.Errorf("zkload worker's spawns %q, want it to end with 2 Http users", lines)
		}
		pyUsers := map[string]int{}
		for _, line := range py.LogLines(pythonSpawnRx.String()) {
			var added, running map[string]int
			sub := pythonSpawnRx.FindStringSubmatch(line)
			if json.Unmarshal([]byte(sub[1]), &added) != nil || json.Unmarshal([]byte(sub[2]), &running) != nil {
				t.Fatalf("Python worker's spawn line %q", line)
			}
			pyUsers = running
			for class, n := range added {
				pyUsers[class] += n
			}
		}
		if len(pyUsers) != 1 || pyUsers["Http"] != users/2 {
			t.Errorf("Python worker runs %v, want %d Http users", pyUsers, users/2)
		}

		// Requests: the target tells the workers apart by their User-Agent. zkload's
		// worker reported exactly what it sent; a Python worker's users are killed at
		// the stop, and the request each has in flight is served but never reported:
		// at most one per Python user is missing from the master's count.
		agg := testenv.CSVAggregated(t, m.CSV("stats"))
		counted, failed := csvInt(t, agg, "Request Count"), csvInt(t, agg, "Failure Count")
		zkReqs, zkFails := workerReported(t, zk)
		zkServed, pyServed := target.AgentCount("zkload"), target.AgentCount("python-requests/")
		if zkServed == 0 || pyServed == 0 || zkServed+pyServed != target.Total() {
			t.Fatalf("target served %d to zkload and %d to Python of %d requests, want both some and no other client", zkServed, pyServed, target.Total())
		}
		if zkReqs != zkServed {
			t.Errorf("zkload worker reported %d requests, target served it %d", zkReqs, zkServed)
		}
		lost := pyServed - (counted - zkReqs)
		if lost < 0 || lost > users/2 {
			t.Errorf("master counted %d requests, %d of them zkload's; Python's worker was served %d: %d lost, want 0 to %d",
				counted, zkReqs, pyServed, lost, users/2)
		}
		t.Logf("target served %d requests: %d to zkload (all reported), %d to Python (%d not reported at the stop)", target.Total(), zkServed, pyServed, lost)

		// Failures: one row, both workers' occurrences in it.
		rows := testenv.CSVRecords(t, m.CSV("failures"))
		if len(rows) != 1 {
			t.Fatalf("%d rows in _failures.csv, want 1: %v", len(rows), rows)
		}
		want := "HTTPError('500 Server Error: Internal Server Error for url: " + target.URL + path + "')"
		if l.Newer("2.14.1") {
			want = "HTTPError('500 Server Error: Internal Server Error for url: " + path + "')"
		}
		row := rows[0]
		if row["Method"] != "GET" || row["Name"] != path || row["Error"] != want {
			t.Errorf("failure row %v, want GET %s %s", row, path, want)
		}
		occ := csvInt(t, row, "Occurrences")
		if occ != failed || zkFails == 0 || occ-zkFails <= 0 {
			t.Errorf("occurrences %d, failures %d, zkload's %d: want the row to hold all, some from each worker", occ, failed, zkFails)
		}
		if served := target.Count(path) / every; failed > served || failed < served-lost {
			t.Errorf("master counted %d failures, target answered %d with 500 (%d requests lost)", failed, served, lost)
		}
		t.Logf("%d failures in one row: %d from zkload, %d from Python", occ, zkFails, occ-zkFails)
	})
}
