package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
)

// TestWorkersOnOtherHostsAttachToOneMaster: a master bound to one address only
// (127.0.0.2) and two workers that reach it with --master-host, one of them on "another
// host" (its own UTS namespace and host name, so its node id names another machine).
// The master dispatches to both hosts and counts every request.
func TestWorkersOnOtherHostsAttachToOneMaster(t *testing.T) {
	testenv.RequireLocust(t)
	if err := exec.Command("unshare", "-u", "true").Run(); err != nil {
		t.Fatalf("unshare -u (a UTS namespace, needs root) is required: %v", err)
	}
	t.Parallel()
	target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
	port := strconv.Itoa(testenv.FreePort(t))
	dir := t.TempDir()
	master := testenv.StartProcessOptions(t, testenv.ProcOptions{Path: testenv.LocustPath, Dir: dir, Label: "master",
		Args: []string{"-f", httpLocustfile(t), "--master", "--master-bind-host", "127.0.0.2", "--master-bind-port", port,
			"--headless", "-u", "4", "-r", "4", "-t", "6s", "--expect-workers", "2", "--csv", filepath.Join(dir, "run"), "-H", target.URL}})
	here := testenv.StartProcess(t, zkloadBin, []string{"worker", "--master-host", "127.0.0.2", "--master-port", port, "Http"}, nil)
	other := testenv.StartProcess(t, "unshare", []string{"-u", "sh", "-c",
		`hostname zkload-host-b && exec "$0" worker --master-host 127.0.0.2 --master-port "$1" Http`, zkloadBin, port}, nil)
	if code := master.Wait(60 * time.Second); code != 0 {
		t.Fatalf("master exit %d\n%s", code, master.Log())
	}
	if !master.LogContains(`Worker zkload-host-b_[0-9a-f]{32} \(index \d\) reported as ready`) ||
		!master.LogContains(`reported as ready\. 2 workers connected`) {
		t.Errorf("the master did not register a worker of host zkload-host-b beside the local one:\n%s", master.Log())
	}
	for _, w := range []*testenv.Proc{here, other} {
		w.Wait(10 * time.Second)
		if !w.LogContains(`counts=map\[Http:2\]`) {
			t.Errorf("%s was not given its 2 users:\n%s", w.Label, w.Log())
		}
	}
	counted := csvInt(t, testenv.CSVAggregated(t, filepath.Join(dir, "run_stats.csv")), "Request Count")
	if served := target.Total(); served == 0 || counted != served {
		t.Errorf("target served %d, master counted %d", served, counted)
	}
	if strings.Contains(master.Log(), "Traceback") {
		t.Errorf("master log has a Traceback")
	}
}
