package zookeeper

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// BenchmarkOverheadVsBare compares zkload's Get users with a bare go-zookeeper loop
// over the same number of sessions and requests in flight, against one standalone
// server: each side runs for 2 s, alternately, twice, and the best run of each counts.
// It reports both rates and zkload's cost in % of throughput, and fails above 10%.
//
//	go test -run '^$' -bench OverheadVsBare -benchtime 1x ./tasks/zookeeper/
func BenchmarkOverheadVsBare(b *testing.B) {
	e := zktest.Start(b, 1)
	for _, c := range []struct{ sessions, inflight int }{{4, 1}, {4, 8}} {
		b.Run(fmt.Sprintf("sessions=%d/inflight=%d", c.sessions, c.inflight), func(b *testing.B) {
			const d = 2 * time.Second
			var bare, ours float64
			for round := 0; round < 2; round++ {
				bare = max(bare, bareRate(b, e.ConnectString(), c.sessions, c.inflight, d))
				ours = max(ours, zkloadRate(b, e.ConnectString(), c.sessions, c.inflight, d))
			}
			cost := 100 * (bare - ours) / bare
			b.ReportMetric(bare, "bare-ops/s")
			b.ReportMetric(ours, "zkload-ops/s")
			b.ReportMetric(cost, "cost-%")
			if cost > 10 {
				b.Errorf("zkload costs %.1f%% of throughput (%.0f vs %.0f ops/s), want at most 10%%", cost, ours, bare)
			}
		})
	}
}

// bareRate runs sessions x inflight goroutines doing Get in a loop for d.
func bareRate(b *testing.B, hosts string, sessions, inflight int, d time.Duration) float64 {
	s, err := Resolve(layers(map[string]string{"hosts": hosts, "pseudo-root": "/bench"}), "")
	if err != nil {
		b.Fatal(err)
	}
	var conns []*zk.Conn
	for i := 0; i < sessions; i++ {
		c, err := Dial(context.Background(), s, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := EnsurePath(c, "/bench", ACL(s)); err != nil {
			b.Fatal(err)
		}
		p := KeyPath("/bench", 8, i)
		if _, err := c.Create(p, []byte("12345678"), 0, ACL(s)); err != nil && err != zk.ErrNodeExists {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	var n atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		p := KeyPath("/bench", 8, i)
		for j := 0; j < inflight; j++ {
			wg.Add(1)
			go func(c *zk.Conn) {
				defer wg.Done()
				for !stop.Load() {
					t0 := time.Now()
					if _, _, err := c.Get(p); err == nil {
						_ = time.Since(t0)
						n.Add(1)
					}
				}
			}(c)
		}
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// zkloadRate runs `sessions` Get users with --outstanding inflight for d, as a worker.
func zkloadRate(b *testing.B, hosts string, sessions, inflight int, d time.Duration) float64 {
	classes := Workload{}.Classes(layers(map[string]string{"hosts": hosts, "pseudo-root": "/bench",
		"outstanding": fmt.Sprint(inflight)}))
	var get *boomer.UserClass
	for _, c := range classes {
		if c.Name == "Get" {
			get = c
		}
	}
	tl := newTally()
	rec := newRecorderForBench()
	us, err := boomer.NewUsers([]*boomer.UserClass{get}, rec, "", quietLog())
	if err != nil {
		b.Fatal(err)
	}
	us.Configure(&boomer.Env{}, "", time.Second, nil, nil)
	us.SetTargets(map[string]int{"Get": sessions})
	// Let the sessions open, then measure between two reports.
	time.Sleep(300 * time.Millisecond)
	rec.Report()
	start := time.Now()
	time.Sleep(d)
	tl.add(rec.Report())
	el := time.Since(start)
	<-us.StopAll(time.Second)
	return float64(tl.reqs[key{"get", "get"}]) / el.Seconds()
}
