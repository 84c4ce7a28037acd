package boomer

import (
	"context"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/internal/testenv"
)

// locustPercentile is Locust 2.12.1's calculate_response_time_percentile (reference §5.4).
func locustPercentile(buckets map[int64]int64, n int64, p float64) int64 {
	keys := make([]int64, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] > keys[j] })
	target := int64(float64(n) * p)
	var processed int64
	for _, k := range keys {
		processed += buckets[k]
		if n-processed <= target {
			return k
		}
	}
	return 0
}

// locustMedian is median_from_dict, clamped to [min, max] as StatsEntry does.
func locustMedian(buckets map[int64]int64, n int64, min, max float64) float64 {
	keys := make([]int64, 0, len(buckets))
	for k := range buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	pos := float64(n-1) / 2
	med := 0.0
	for _, k := range keys {
		if pos < float64(buckets[k]) {
			med = float64(k)
			break
		}
		pos -= float64(buckets[k])
	}
	return math.Min(math.Max(med, min), max)
}

// TestKnownLatenciesGiveLocustsPercentiles records a known set of latencies through a
// real Locust 2.12.1 master and checks its _stats.csv against the reference's
// computation (§9 item 13): exact counts, raw min/max/average, half-to-even buckets.
func TestKnownLatenciesGiveLocustsPercentiles(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		latencies := []time.Duration{3200 * time.Microsecond, 47500 * time.Microsecond, 145 * time.Millisecond,
			155 * time.Millisecond, 999600 * time.Microsecond, 1234 * time.Millisecond, 15500 * time.Millisecond}
		const total, failures = 100, 20
		failure := errors.New("ValueError('scripted failure')")
		var once sync.Once
		class := &UserClass{Name: "Scripted", Weight: 1, Wait: Constant(time.Hour), Tasks: []Task{{Name: "replay", Weight: 1,
			Fn: func(ctx context.Context, u *User) error {
				once.Do(func() {
					for i := range total {
						var err error
						if i < failures {
							err = failure
						}
						u.Record("GET", "/known", latencies[i%len(latencies)], 100, err)
					}
				})
				return nil
			}}}}
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l,
			Classes: []testenv.Class{{Name: "Scripted", Weight: 1}}, Headless: true, ExpectWorkers: 1,
			Users: 1, SpawnRate: 1, RunTime: "5s", CSVPrefix: "known",
		})
		w, err := NewWorker(WorkerOptions{MasterPort: m.MasterPort, Classes: []*UserClass{class}, Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- w.Run(context.Background()) }()
		if code := m.Wait(60 * time.Second); code != 1 {
			t.Fatalf("master exit code %d, want 1 (failures recorded)\n%s", code, m.Log())
		}
		if err := <-done; err != nil {
			t.Fatalf("worker: %v", err)
		}

		// The reference computation over the same samples.
		buckets := map[int64]int64{}
		var sumNs int64
		minMs, maxMs := math.Inf(1), 0.0
		for i := range total {
			d := latencies[i%len(latencies)]
			ms := float64(d.Nanoseconds()) / 1e6
			buckets[recorder.Bucket(ms)]++
			sumNs += d.Nanoseconds()
			minMs, maxMs = math.Min(minMs, ms), math.Max(maxMs, ms)
		}
		if buckets[140] == 0 || buckets[16000] == 0 || buckets[150] != 0 {
			t.Fatalf("half-to-even buckets wrong: %v", buckets)
		}
		num := func(row map[string]string, col string) float64 {
			t.Helper()
			f, err := strconv.ParseFloat(row[col], 64)
			if err != nil {
				t.Fatalf("column %q = %q", col, row[col])
			}
			return f
		}
		for _, row := range []map[string]string{
			testenv.CSVRow(t, m.CSV("stats"), "GET", "/known"),
			testenv.CSVAggregated(t, m.CSV("stats")),
		} {
			if num(row, "Request Count") != total || num(row, "Failure Count") != failures {
				t.Errorf("%s: counts %s/%s, want %d/%d", row["Name"], row["Request Count"], row["Failure Count"], total, failures)
			}
			if got, want := num(row, "Average Response Time"), float64(sumNs)/1e6/total; math.Abs(got-want) > 1e-9*want {
				t.Errorf("%s: average %v, want %v", row["Name"], got, want)
			}
			if num(row, "Min Response Time") != minMs || num(row, "Max Response Time") != maxMs {
				t.Errorf("%s: min/max %s/%s, want %v/%v", row["Name"], row["Min Response Time"], row["Max Response Time"], minMs, maxMs)
			}
			if got, want := num(row, "Median Response Time"), locustMedian(buckets, total, minMs, maxMs); got != want {
				t.Errorf("%s: median %v, want %v", row["Name"], got, want)
			}
			for _, p := range []float64{0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1} {
				col := strings.TrimSuffix(strconv.FormatFloat(p*100, 'f', -1, 64), ".0") + "%"
				if got, want := num(row, col), float64(locustPercentile(buckets, total, p)); got != want {
					t.Errorf("%s: %s = %v, want %v", row["Name"], col, got, want)
				}
			}
			if num(row, "Average Content Size") != 100 {
				t.Errorf("%s: average content size %s", row["Name"], row["Average Content Size"])
			}
		}
		rows := testenv.CSVRecords(t, m.CSV("failures"))
		if len(rows) != 1 || rows[0]["Occurrences"] != strconv.Itoa(failures) || !strings.Contains(rows[0]["Error"], "ValueError('scripted failure')") {
			t.Errorf("failures CSV %v, want one row with %d occurrences", rows, failures)
		}
	})
}

// TestStuckMasterDoesNotSlowUsers freezes a real master (SIGSTOP) while the users run:
// nothing the users do waits on the master link, so they keep recording, and once the
// master thaws it hears the worker again.
func TestStuckMasterDoesNotSlowUsers(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	var recorded atomic.Int64
	m := testenv.StartMaster(t, testenv.MasterOptions{Classes: []testenv.Class{{Name: "A", Weight: 1}}})
	w, err := NewWorker(WorkerOptions{MasterPort: m.MasterPort, Logger: quietLog(),
		Classes:           []*UserClass{recordingClass("A", 1, &recorded, 100*time.Microsecond)},
		StatsInterval:     20 * time.Millisecond, // many frames pile up while the master is frozen
		HeartbeatInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	m.WaitReadyWorkers(1, 20*time.Second)
	m.Swarm(4, 4, "")
	m.WaitLog(`All users spawned`, 20*time.Second)

	m.Signal(syscall.SIGSTOP)
	frozen := recorded.Load()
	deadline := time.Now().Add(20 * time.Second)
	for recorded.Load() < frozen+20000 {
		if time.Now().After(deadline) {
			m.Signal(syscall.SIGCONT)
			t.Fatalf("users recorded only %d requests while the master was frozen", recorded.Load()-frozen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Signal(syscall.SIGCONT)
	m.CheckAlive(10 * time.Second)
	before := m.Stats().Aggregated().NumRequests
	deadline = time.Now().Add(15 * time.Second)
	for m.Stats().Aggregated().NumRequests <= before {
		if time.Now().After(deadline) {
			t.Fatal("the master's stats did not grow after it thawed")
		}
		time.Sleep(500 * time.Millisecond)
	}
}
