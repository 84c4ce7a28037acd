package main

// A mixed fleet: one real Locust master driving a zkload worker and Locust's own Python
// worker, both running the ZooKeeper Get workload against the same server.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// kazooGet is appended to what `zkload locustfile Get` prints, so that the master and
// the Python worker load one file. It redefines Get (the last definition is the one
// Locust finds) as zk-locust's get with kazoo: one session per user, one of the shared
// keys <root>/c-<i> (created with a random printable value if missing, as zkload's Get
// does), read in a loop and recorded under the type and name zkload's Get uses: "get",
// "get" (the value size is not set, so the name is not sized). Settings come from the
// master's --zk-* options, with zkload's defaults. The worker writes what it counted to
// COUNTS_PATH when it quits. The master uses only the class's name and weight.
const kazooGet = `

# --- The Get class for Python workers (kazoo), replacing the one above. ---
import json
import random
import time

from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.handlers.gevent import SequentialGeventHandler
from locust import User, events, task
from locust.runners import WorkerRunner

_COUNTS_PATH = COUNTS_PATH
_counts = {"requests": 0, "failures": 0, "users": 0, "max_users": 0}


def _opt(env, name, default):
    v = getattr(env.parsed_options, name, "") if env.parsed_options else ""
    return default if v in (None, "") else v


class Get(User):
    "get: one random shared key per user (created if missing), read (kazoo)"
    weight = 1

    def wait_time(self):
        return float(_opt(self.environment, "zk_min_wait", 0)) / 1000

    def on_start(self):
        env = self.environment
        root = _opt(env, "zk_pseudo_root", "/kl")
        key_size = int(_opt(env, "zk_key_size", 8))
        key_space = int(_opt(env, "zk_key_space", 128))
        val_size = int(_opt(env, "zk_val_size", 8))
        self.zk = KazooClient(hosts=self.host.split("://", 1)[-1], handler=SequentialGeventHandler())
        self.zk.start()
        self.zk.ensure_path(root)
        self.key = "%s/c-%0*d" % (root, key_size - 2, random.randrange(key_space))
        try:
            self.zk.create(self.key, bytes(random.randint(32, 127) for _ in range(val_size)))
        except NodeExistsError:
            pass
        _counts["users"] += 1
        _counts["max_users"] = max(_counts["max_users"], _counts["users"])

    def on_stop(self):
        _counts["users"] -= 1
        self.zk.stop()
        self.zk.close()

    @task
    def get(self):
        t0 = time.perf_counter()
        exc, n = None, 0
        try:
            data, _ = self.zk.get(self.key)
            n = len(data)
        except Exception as e:  # recorded as a failure, as zkload's log-failure does
            exc = e
        # Counted and recorded with no gevent switch in between: what this file counts is
        # what the worker's stats hold.
        _counts["requests"] += 1
        _counts["failures"] += exc is not None
        self.environment.events.request.fire(request_type="get", name="get",
            response_time=(time.perf_counter() - t0) * 1000, response_length=n, exception=exc, context={})


@events.quitting.add_listener
def _write_counts(environment, **_kwargs):
    if isinstance(environment.runner, WorkerRunner):
        with open(_COUNTS_PATH, "w") as f:
            json.dump(_counts, f)
`

// mixedZKLocustfile writes `zkload locustfile Get` with kazooGet appended; the Python
// worker writes its counts to countsPath.
func mixedZKLocustfile(t *testing.T, countsPath string) string {
	t.Helper()
	generated, err := os.ReadFile(zkLocustfile(t, "Get"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(generated), "\nclass Get(User):") {
		t.Fatalf("`zkload locustfile Get` has no Get class:\n%s", generated)
	}
	quoted, err := json.Marshal(countsPath) // a JSON string is a Python string literal
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mixed_locustfile.py")
	body := string(generated) + strings.Replace(kazooGet, "COUNTS_PATH\n", string(quoted)+"\n", 1)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// requireKazoo fails (or skips, with ZKLOAD_SKIP_E2E=1) unless Debian's Python can
// import kazoo (scripts/setup.sh --test installs python3-kazoo).
func requireKazoo(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("/usr/bin/python3", "-c", "import kazoo").CombinedOutput(); err != nil {
		if os.Getenv(testenv.SkipE2EEnv) == "1" {
			t.Skipf("no kazoo: %v", err)
		}
		t.Fatalf("/usr/bin/python3 cannot import kazoo (install it with scripts/setup.sh --test): %v\n%s", err, out)
	}
}

// pythonCounts is what the kazoo Get worker wrote as it quit.
type pythonCounts struct {
	Requests int64 `json:"requests"`
	Failures int64 `json:"failures"`
	MaxUsers int   `json:"max_users"`
}

// TestZKMixedFleetWithPythonWorker: a master gives 4 Get users to a zkload worker and a
// Python worker running Get with kazoo on the same ZooKeeper, 2 each. Both record the
// same type and name, so the master's stats have one get/get row, which holds exactly
// what the two workers say they did. Debian's 2.12.1 master cannot run this: it refuses
// Python workers of its own release (checked, then the subtest is skipped).
func TestZKMixedFleetWithPythonWorker(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		requireKazoo(t)
		countsPath := filepath.Join(t.TempDir(), "python_counts.json")
		lf := mixedZKLocustfile(t, countsPath)

		if l.Version == testenv.Debian().Version {
			m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: lf, Headless: true,
				ExpectWorkers: 1, Users: 1, SpawnRate: 1})
			testenv.StartPythonWorker(t, l, lf, m.MasterPort)
			refused := m.WaitLog(`An old \(pre 2\.0\) worker tried to connect`, 30*time.Second)
			if m.LogContains(`reported as ready`) {
				t.Fatalf("the 2.12.1 master accepted its Python worker after all:\n%s", m.Log())
			}
			t.Skipf("Debian's Locust 2.12.1 master refuses Python workers of its own release, whose "+
				"version string is empty (python3-locust's locust.__version__ == \"\"): %q", refused)
		}

		e := zktest.Start(t, 1)
		const users = 4
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: lf, Headless: true,
			ExpectWorkers: 2, Users: users, SpawnRate: users, RunTime: "8s", CSVPrefix: "mixed",
			Host: "zk://" + e.ConnectString(),
			// A small key space, so that both workers' users read keys the other created;
			// think time, so that the two share the machine's cores fairly.
			ExtraArgs: []string{"--zk-pseudo-root", "/mixed", "--zk-key-space", "4", "--zk-min-wait", "10"},
		})
		py := testenv.StartPythonWorker(t, l, lf, m.MasterPort)
		w := zkWorker(t, m, "Get")
		if code := m.Wait(90 * time.Second); code != 0 {
			t.Fatalf("master exit code %d, want 0 (no failures)\n%s", code, m.Log())
		}
		if code := py.Wait(20 * time.Second); code != 0 {
			t.Errorf("Python worker exit code %d, want 0\n%s", code, py.Log())
		}
		if code := w.Wait(20 * time.Second); code != 0 {
			t.Errorf("zkload worker exit code %d, want 0", code)
		}
		for _, bad := range []string{"Traceback", "different version", "unknown worker"} {
			if m.LogContains(regexp.QuoteMeta(bad)) || py.LogContains(regexp.QuoteMeta(bad)) {
				t.Errorf("master or Python worker log has %q:\n%s\n%s", bad, m.Log(), py.Log())
			}
		}

		// Users as dispatched: 4 Get users, 2 on each worker.
		if !m.LogContains(`All users spawned: .*"Get": 4.*\(4 total users\)`) {
			t.Errorf("the master never reported 4 Get users spawned:\n%s", strings.Join(m.LogLines("spawn"), "\n"))
		}
		spawned := w.LogLines(`spawned users`)
		if len(spawned) == 0 || !strings.Contains(spawned[len(spawned)-1], "counts=map[Get:2]") {
			t.Errorf("zkload worker's spawns %q, want Get:2 last", spawned)
		}
		b, err := os.ReadFile(countsPath)
		if err != nil {
			t.Fatalf("the Python worker wrote no counts: %v\n%s", err, py.Log())
		}
		var pc pythonCounts
		if err := json.Unmarshal(b, &pc); err != nil {
			t.Fatalf("%s: %v: %s", countsPath, err, b)
		}
		if pc.MaxUsers != users/2 {
			t.Errorf("the Python worker ran %d users at most, want %d", pc.MaxUsers, users/2)
		}

		// One row for get/get, holding both workers' requests exactly.
		var rows []map[string]string
		for _, r := range testenv.CSVRecords(t, m.CSV("stats")) {
			if r["Name"] != "Aggregated" {
				rows = append(rows, r)
			}
		}
		if len(rows) != 1 || rows[0]["Type"] != "get" || rows[0]["Name"] != "get" {
			t.Fatalf("the master's stats rows %v, want one: get, get", rows)
		}
		zr, zf := workerReported(t, w)
		if zr == 0 || pc.Requests == 0 {
			t.Errorf("zkload worker reported %d requests, the Python worker %d: want both > 0", zr, pc.Requests)
		}
		n := csvInt(t, rows[0], "Request Count")
		t.Logf("get/get: master %d, zkload worker %d, Python worker %d", n, zr, pc.Requests)
		if n != zr+pc.Requests {
			t.Errorf("the master counted %d get requests, the workers did %d (zkload) + %d (Python) = %d",
				n, zr, pc.Requests, zr+pc.Requests)
		}
		if n := csvInt(t, rows[0], "Failure Count"); n != 0 || zf != 0 || pc.Failures != 0 {
			t.Errorf("failures: master %d, zkload worker %d, Python worker %d", n, zf, pc.Failures)
		}
	})
}
