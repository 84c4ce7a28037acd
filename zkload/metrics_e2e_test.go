package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// TestMetricsCommand runs `zkload metrics` against a real 3-member ensemble: it polls
// until --run-time, the CSV holds the leader's and the followers' own keys and rates;
// after kill -9 mid-run the CSV is still valid; bad flags give one line and exit 2.
func TestMetricsCommand(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 3)
	var admin []string
	for _, m := range e.Members() {
		admin = append(admin, strconv.Itoa(m.AdminPort))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "zk-metrics.csv")
	out := runZkload(t, 0, "metrics", "--hosts", e.ConnectString(), "--admin-port", strings.Join(admin, ","),
		"--zk-metrics-collect", "500", "--zk-metrics-csv", path, "-t", "4s")
	if !strings.Contains(out, "poll 1 ") || !strings.Contains(out, "stopped after") {
		t.Fatalf("no progress lines:\n%s", out)
	}
	rows := readMetricsCSV(t, path)
	roles := map[string]map[string]bool{}
	for _, r := range rows {
		if roles[r[2]] == nil {
			roles[r[2]] = map[string]bool{}
		}
		roles[r[2]][r[3]] = true
	}
	if !roles["leader"]["synced_followers"] || roles["follower"]["synced_followers"] || !roles["follower"]["packets_sent_per_sec"] {
		t.Fatalf("leader keys %d, follower keys %d: leader-only or rate rows misplaced", len(roles["leader"]), len(roles["follower"]))
	}

	// kill -9 mid-run: every flushed poll is in the file, and it parses.
	killed := filepath.Join(dir, "killed.csv")
	p := testenv.StartProcess(t, zkloadBin, []string{"metrics", "--hosts", e.ConnectString(),
		"--admin-port", strings.Join(admin, ","), "--interval", "100ms", "--csv", killed}, nil)
	p.WaitLog(`poll 1 `, 20*time.Second)
	// Kill it once several polls are on disk (waiting on the file, not on the clock).
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(killed)
		if strings.Count(string(b), "\n") > 1200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d rows written in 20 s", strings.Count(string(b), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Signal(syscall.SIGKILL)
	p.Wait(10 * time.Second)
	b, err := os.ReadFile(killed)
	if err != nil {
		t.Fatal(err)
	}
	// At most the last row is cut.
	if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
		b = b[:i+1]
	}
	r := csv.NewReader(strings.NewReader(string(b)))
	r.FieldsPerRecord = 5
	if recs, err := r.ReadAll(); err != nil || len(recs) < 1000 {
		t.Fatalf("after kill -9: %d rows, %v", len(recs), err)
	}

	for _, bad := range [][]string{
		{"--hosts", "a:99999"}, {"--hosts", "a:1", "--interval", "soon"}, {"--hosts", "a:1", "--source", "jmx"},
		{"--hosts", "a:1,b:1", "--admin-port", "1,2,3"}, {"--hosts", "a:1", "-t", "later"}, {"--hosts", "", "--interval", "100"},
	} {
		out := runZkload(t, 2, append([]string{"metrics"}, bad...)...)
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "zkload metrics: ") {
			t.Errorf("zkload metrics %v: want one line, got\n%s", bad, out)
		}
	}
}

func readMetricsCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 5
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %d rows, %v", path, len(rows), err)
	}
	if strings.Join(rows[0], ",") != "timestamp,host_port,server_state,metric,value" {
		t.Fatalf("header %v", rows[0])
	}
	return rows[1:]
}
