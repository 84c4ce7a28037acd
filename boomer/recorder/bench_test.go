package recorder

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// benchNames are the endpoints the benchmarks cycle through: a user rarely hits one
// endpoint only, so the one-entry cache must not flatter the numbers.
var benchNames = func() []string {
	names := make([]string, 8)
	for i := range names {
		names[i] = fmt.Sprintf("/api/v1/resource/%d", i)
	}
	return names
}()

var errBench = errors.New("ConnectionResetError(104, 'Connection reset by peer')")

// benchElapsed spreads response times over all histogram ranges.
var benchElapsed = [...]time.Duration{
	3200 * time.Microsecond, 47 * time.Millisecond, 145 * time.Millisecond,
	999600 * time.Microsecond, 1234 * time.Millisecond, 7 * time.Millisecond,
	820 * time.Microsecond, 15500 * time.Millisecond,
}

func BenchmarkRecordSuccess(b *testing.B) {
	s := New(Options{}).Shard(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Record("GET", benchNames[i&7], benchElapsed[i&7], 1024, nil)
	}
}

func BenchmarkRecordFailure(b *testing.B) {
	s := New(Options{}).Shard(0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Record("GET", benchNames[i&7], benchElapsed[i&7], 0, errBench)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	r := New(Options{})
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		s := r.Shard(int(next.Add(1)))
		i := 0
		for pb.Next() {
			s.Record("GET", benchNames[i&7], benchElapsed[i&7], 1024, nil)
			i++
		}
	})
}

// BenchmarkReport measures one 3 s report of a busy worker: 20 endpoints recorded
// into every shard over 3 seconds, with latencies across all ranges and two errors.
func BenchmarkReport(b *testing.B) {
	clock := newFakeClock(time.Unix(t0, 0))
	r := New(Options{Now: clock.Now})
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("/api/v1/endpoint/%d", i)
	}
	errRefused := errors.New("ConnectionRefusedError(111, 'Connection refused')")
	fill := func(base time.Duration) {
		for sec := 0; sec < 3; sec++ {
			clock.Set(time.Unix(t0, 0).Add(base + time.Duration(sec)*time.Second))
			for sh := 0; sh < len(r.shards); sh++ {
				s := r.Shard(sh)
				for i := 0; i < 200; i++ {
					var err error
					switch i % 50 {
					case 7:
						err = errBench
					case 31:
						err = errRefused
					}
					s.Record("GET", names[i%len(names)], time.Duration(i*i)*time.Millisecond/7, 512, err)
				}
			}
		}
	}
	b.ReportAllocs()
	var reqs int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		fill(time.Duration(i) * 3 * time.Second)
		b.StartTimer()
		reqs = r.Report().StatsTotal.NumRequests
	}
	b.ReportMetric(float64(reqs), "requests/report")
}

// BenchmarkBucket measures rounding a response time to Locust's stats bucket.
func BenchmarkBucket(b *testing.B) {
	var ms [64]float64
	for i := range ms {
		ms[i] = float64(benchElapsed[i&7]) / 1e6 * (1 + float64(i)/64)
	}
	b.ReportAllocs()
	var sink int64
	for i := 0; i < b.N; i++ {
		sink += Bucket(ms[i&63])
	}
	if sink == 0 {
		b.Fatal("no buckets")
	}
}
