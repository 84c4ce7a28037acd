package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// closedLoopback returns host:port of a loopback port nothing listens on: [::1] when
// IPv6 is available, else 127.0.0.1.
func closedLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRunWithoutEnsembleFails: `zkload run --hosts [::1]:PORT -t 3s -u 2 Get` with
// nothing listening used to end with exit code 0, an empty table and not a word; the
// users that never got a session are now failures that say why, and the exit code is 1.
func TestRunWithoutEnsembleFails(t *testing.T) {
	t.Parallel()
	addr := closedLoopback(t)
	out := runZkload(t, 1, "run", "--hosts", addr, "-t", "3s", "-u", "2", "Get")
	for _, want := range []string{
		"could not connect to " + addr + " within the run: dial tcp " + addr + ": connect: connection refused",
		"2 of 2 requests failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "\nconnect  get ") {
		t.Errorf("no connect/get row in the table:\n%s", out)
	}
}

// TestMaxWaitBelowMinWaitIsSaid: --min-wait 10 --max-wait 5 uses 10, and says so once.
func TestMaxWaitBelowMinWaitIsSaid(t *testing.T) {
	t.Parallel()
	out := runZkload(t, 0, "run", "--hosts", closedLoopback(t), "-t", "1s", "-u", "0", "--min-wait", "10", "--max-wait", "5", "Get")
	want := `level=WARN msg="--max-wait 5 is less than --min-wait 10: the think time is 10 ms`
	if strings.Count(out, want) != 1 || strings.Count(out, "is less than") != 1 {
		t.Errorf("want one warning %s...:\n%s", want, out)
	}
}

// TestCleanupRefusesExtraArguments: cleanup takes options only (a regression check).
func TestCleanupRefusesExtraArguments(t *testing.T) {
	t.Parallel()
	p := testenv.StartProcess(t, zkloadBin, []string{"cleanup", "--hosts", closedLoopback(t), "extra"}, nil)
	code := p.Wait(10 * time.Second)
	out := strings.TrimSpace(p.Log())
	if code != 2 || strings.Contains(out, "\n") || !strings.Contains(out, `unexpected argument "extra"`) {
		t.Errorf("exit %d, output %q; want exit 2 and one line naming \"extra\"", code, out)
	}
}

// TestLocustfileFlagsReachWorkers: `zkload locustfile --val-size 512 --key-size 10
// --pseudo-root P --hosts ENSEMBLE Get` writes them into the file as the master's
// defaults; a real master started from it, with none of them on its command line (no
// -H either), hands them to a zkload worker that has none of its own: the requests go
// to the ensemble, under the sized name get_512_B, on keys of 10 characters under P.
// Settings the file cannot carry are refused in one line, exit code 2.
func TestLocustfileFlagsReachWorkers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ args, want string }{
		{"--val-size 2000000 --key-size 2 --hosts a:b:c Get", `--hosts "a:b:c": want host:port`},
		{"--val-size 2000000 Get", `--val-size "2000000": want an integer from 1 to 1048576`},
		{"--key-size 2 Get", `--key-size "2": want an integer from 3 to 64`},
		{"--digest user:pw Get", "--digest: a secret never goes into the locustfile"},
		{"--http-path /x Http", "--http-path: the master has no option for it"},
		{"--val-size 512 Http", "--val-size: no ZooKeeper user class in the locustfile"},
	} {
		p := testenv.StartProcess(t, zkloadBin, append([]string{"locustfile"}, strings.Fields(tc.args)...), nil)
		code := p.Wait(10 * time.Second)
		out := strings.TrimSpace(p.Log())
		if code != 2 || strings.Contains(out, "\n") || !strings.Contains(out, tc.want) || strings.Contains(out, "user:pw") {
			t.Errorf("zkload locustfile %s: exit %d, output %q; want exit 2 and one line with %q", tc.args, code, out, tc.want)
		}
	}

	e := zktest.Start(t, 1) // one ensemble for both releases, a pseudo root each
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		root := "/lfdefaults-" + l.Version
		src := runZkload(t, 0, "locustfile", "--val-size", "512", "--key-size", "10", "--pseudo-root", root, "--hosts", e.ConnectString(), "Get")
		lf := filepath.Join(t.TempDir(), "zkload_locustfile.py")
		if err := os.WriteFile(lf, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l,
			Locustfile: lf, Headless: true, Users: 2, SpawnRate: 2, RunTime: "4s", ExpectWorkers: 1, CSVPrefix: "lf",
		})
		w := zkWorker(t, m)
		if code := m.Wait(60 * time.Second); code != 0 {
			t.Errorf("master exit code %d, want 0\n%s\nworker:\n%s", code, m.Log(), w.Log())
		}
		w.Wait(20 * time.Second)
		row := testenv.CSVRow(t, m.CSV("stats"), "get", "get_512_B")
		if n := csvInt(t, row, "Request Count"); n == 0 || csvInt(t, row, "Failure Count") != 0 {
			t.Errorf("get get_512_B: %v; want requests without failures", row)
		}
		conn, _, err := zk.Connect(e.Servers(), 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		keys, _, err := conn.Children(root)
		if err != nil || len(keys) == 0 {
			t.Fatalf("children of %s: %v, %v; want the users' keys", root, keys, err)
		}
		for _, k := range keys {
			if len(k) != 10 || !strings.HasPrefix(k, "c-") {
				t.Errorf("key %q under %s; want c- and 10 characters (--key-size 10)", k, root)
			}
		}
	})
}
