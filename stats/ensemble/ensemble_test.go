package ensemble_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/zkenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/stats/ensemble"
)

// members returns the ensemble's members with each one's own AdminServer port.
func members(t *testing.T, e *zkenv.Ensemble) []ensemble.Member {
	t.Helper()
	var admin []int
	for _, m := range e.Members() {
		admin = append(admin, m.AdminPort)
	}
	ms, err := ensemble.Members(e.ConnectString(), admin, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// readCSV parses the long-form CSV and returns its rows, header checked.
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 5
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	if strings.Join(rows[0], ",") != "timestamp,host_port,server_state,metric,value" {
		t.Fatalf("header %v", rows[0])
	}
	for _, row := range rows[1:] {
		if _, err := time.Parse(ensemble.TimeFormat, row[0]); err != nil {
			t.Fatalf("row %v: timestamp: %v", row, err)
		}
	}
	return rows[1:]
}

// TestPollEnsemble polls a real 3-member ensemble through every source: the leader and
// the followers are recorded with their own keys (leader-only keys for the leader
// alone), counters get rates, and a stopped member gives error rows while polling goes
// on for the others.
func TestPollEnsemble(t *testing.T) {
	e := zktest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ms := members(t, e)
	leader, follower := -1, -1
	for i := range ms {
		mode, err := e.Mode(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if mode == "leader" {
			leader = i
		} else {
			follower = i
		}
	}
	if leader < 0 || follower < 0 {
		t.Fatal("no leader or no follower")
	}

	for _, src := range []ensemble.Source{ensemble.SourceAuto, ensemble.SourceAdmin, ensemble.SourceMntr} {
		t.Run(string(src), func(t *testing.T) {
			p, err := ensemble.NewPoller(ensemble.Options{Members: ms, Source: src, Timeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			path := filepath.Join(t.TempDir(), "zk-metrics.csv")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w, err := ensemble.NewCSVWriter(f)
			if err != nil {
				t.Fatal(err)
			}
			for poll := 0; poll < 2; poll++ {
				samples := p.Poll(ctx)
				for i, s := range samples {
					if s.Err != nil {
						t.Fatalf("poll %d member %d: %v", poll, i+1, s.Err)
					}
					want := ensemble.SourceAdmin
					if src == ensemble.SourceMntr {
						want = ensemble.SourceMntr
					}
					if s.Source != want {
						t.Fatalf("member %d answered by %q, want %q", i+1, s.Source, want)
					}
				}
				if err := w.Write(samples); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			// The file is read while still open: each poll was flushed.
			keys := map[string]map[string]bool{}
			states := map[string]string{}
			for _, r := range readCSV(t, path) {
				if keys[r[1]] == nil {
					keys[r[1]] = map[string]bool{}
				}
				keys[r[1]][r[3]] = true
				states[r[1]] = r[2]
			}
			lead, fol := ms[leader].HostPort, ms[follower].HostPort
			if states[lead] != "leader" || states[fol] != "follower" {
				t.Fatalf("states %v", states)
			}
			for _, k := range []string{"learners", "synced_followers", "pending_syncs", "leader_uptime"} {
				if !keys[lead][k] {
					t.Errorf("leader has no %s row", k)
				}
				if keys[fol][k] {
					t.Errorf("follower has a %s row", k)
				}
			}
			for _, hp := range []string{lead, fol} {
				for _, k := range []string{"znode_count", "num_alive_connections", "packets_received", "packets_received_per_sec", "packets_sent_per_sec", "source"} {
					if !keys[hp][k] {
						t.Errorf("%s has no %s row", hp, k)
					}
				}
				if keys[hp]["num_alive_connections_per_sec"] || keys[hp][ensemble.ErrorMetric] {
					t.Errorf("%s: a gauge rate or an error row: %v", hp, keys[hp])
				}
			}
		})
	}

	// A stopped member: error rows for it, metrics for the others, polling goes on.
	p, err := ensemble.NewPoller(ensemble.Options{Members: ms, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	path := filepath.Join(t.TempDir(), "stopped.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ensemble.NewCSVWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(p.Poll(ctx)); err != nil {
		t.Fatal(err)
	}
	if err := e.StopMember(ctx, follower); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(ctx, 1500*time.Millisecond)
	polls := 0
	err = ensemble.Run(runCtx, p, w, 300*time.Millisecond, func([]ensemble.Sample) { polls++ })
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if polls < 3 {
		t.Fatalf("%d polls in 1.5s at 300ms", polls)
	}
	dead := ms[follower].HostPort
	errRows, deadMetrics, otherRows := 0, 0, 0
	var lastErr string
	for _, r := range readCSV(t, path) {
		switch {
		case r[1] == dead && r[3] == ensemble.ErrorMetric:
			errRows++
			lastErr = r[4]
		case r[1] == dead && r[3] == "znode_count":
			deadMetrics++
		case r[3] == "znode_count":
			otherRows++
		}
	}
	if errRows != polls {
		t.Errorf("%d error rows for the stopped member in %d polls", errRows, polls)
	}
	if !strings.Contains(lastErr, "refused") {
		t.Errorf("error row %q: want the connection refused", lastErr)
	}
	if deadMetrics == 0 {
		t.Error("no znode_count row for the stopped member from before it stopped")
	}
	if otherRows != 2*(polls+1) {
		t.Errorf("%d znode_count rows of the 2 live members in %d polls", otherRows, polls+1)
	}
}
