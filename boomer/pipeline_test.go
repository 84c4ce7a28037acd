package boomer

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/stats"
)

// TestOneUserRecordsFromSeveralGoroutines: one user records from several goroutines at
// once (a ZooKeeper user with --outstanding above 1 records from each of its pipeline
// goroutines), into a worker whose extra sink is a stats.Collector, while the worker
// reports to a real master and the collector takes snapshots, both often. Every request
// is counted exactly once in the master's stats and in the collector's distributions
// (run with -race: record.Recorder's contract is that this is safe).
func TestOneUserRecordsFromSeveralGoroutines(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	const (
		goroutines = 8
		perG       = 3000
		phases     = 3
		failEvery  = 50 // every 50th request of a goroutine fails
	)
	methods := [2]string{"get", "set"}
	failure := errors.New("ConnectionLossError()")
	recorded := make(chan struct{})
	var once sync.Once
	dir := t.TempDir()
	// waitWindows waits until the collector has written n windows.
	waitWindows := func(n int) {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			ds, _ := stats.ReadDistributions(filepath.Join(dir, "ext_distrib.jsonl"))
			windows := 0
			for _, d := range ds {
				if d.Key.IsTotal() {
					windows++
				}
			}
			if windows >= n {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Errorf("the collector did not write window %d within 20 s", n)
	}
	class := &UserClass{Name: "Pipeline", Weight: 1, Wait: Constant(time.Hour), Tasks: []Task{{Name: "pipeline", Weight: 1,
		Fn: func(ctx context.Context, u *User) error {
			once.Do(func() {
				// Three phases of concurrent records, with a snapshot of the collector
				// between them, so that snapshots certainly fall between records.
				for phase := range phases {
					var wg sync.WaitGroup
					for g := range goroutines {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for i := phase * perG / phases; i < (phase+1)*perG/phases; i++ {
								var err error
								if i%failEvery == 0 {
									err = failure
								}
								u.Record(methods[i%2], "/pipeline", time.Duration(100+g*perG+i)*time.Microsecond, 8, err)
							}
						}()
					}
					wg.Wait()
					waitWindows(phase + 1)
				}
				close(recorded)
			})
			return nil
		}}}}

	col, err := stats.New(stats.Options{Interval: 5 * time.Millisecond, ClientID: "pipeline_0",
		CSVPath: filepath.Join(dir, "ext_stats.csv"), DistribPath: filepath.Join(dir, "ext_distrib.jsonl"), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	m := testenv.StartMaster(t, testenv.MasterOptions{
		Classes: []testenv.Class{{Name: "Pipeline", Weight: 1}}, Headless: true, ExpectWorkers: 1,
		Users: 1, SpawnRate: 1, RunTime: "6s", CSVPrefix: "pipeline",
	})
	w, err := NewWorker(WorkerOptions{MasterPort: m.MasterPort, Classes: []*UserClass{class}, Logger: quietLog(),
		Sink: col, StatsInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	col.Start(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	select {
	case <-recorded:
	case <-time.After(30 * time.Second):
		t.Fatal("the user's goroutines did not finish recording")
	}
	if code := m.Wait(60 * time.Second); code != 1 {
		t.Fatalf("master exit code %d, want 1 (failures recorded)\n%s", code, m.Log())
	}
	if err := <-done; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if err := col.Close(); err != nil {
		t.Fatal(err)
	}

	// What was recorded, per method.
	var want [2]struct{ requests, failures int64 }
	for range goroutines {
		for i := range perG {
			want[i%2].requests++
			if i%failEvery == 0 {
				want[i%2].failures++
			}
		}
	}
	ds, err := stats.ReadDistributions(filepath.Join(dir, "ext_distrib.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	merged := stats.Merge(ds)
	for i, method := range methods {
		row := testenv.CSVRow(t, m.CSV("stats"), method, "/pipeline")
		if row["Request Count"] != strconv.FormatInt(want[i].requests, 10) || row["Failure Count"] != strconv.FormatInt(want[i].failures, 10) {
			t.Errorf("master: %s %s/%s requests/failures, want %d/%d", method, row["Request Count"], row["Failure Count"], want[i].requests, want[i].failures)
		}
		s := merged[stats.Key{Method: method, Name: "/pipeline"}]
		if s == nil {
			t.Errorf("collector: no %s entry", method)
		} else if s.Requests != want[i].requests || s.Failures != want[i].failures {
			t.Errorf("collector: %s %d/%d requests/failures, want %d/%d", method, s.Requests, s.Failures, want[i].requests, want[i].failures)
		}
	}
	if tot := merged[stats.TotalKey]; tot == nil || tot.Requests != goroutines*perG {
		t.Errorf("collector: no total or not %d requests", goroutines*perG)
	}
	windows := 0
	for _, d := range ds {
		if d.Key.IsTotal() {
			windows++
		}
	}
	if windows < phases {
		t.Errorf("the collector wrote %d windows, want at least one per phase (%d)", windows, phases)
	}
}
