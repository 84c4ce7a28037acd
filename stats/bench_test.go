package stats

import (
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/record"
)

func benchCollector(b *testing.B) *Collector {
	b.Helper()
	c, err := New(Options{Interval: time.Hour, CSVPath: filepath.Join(b.TempDir(), "s.csv"),
		DistribPath: filepath.Join(b.TempDir(), "d.jsonl")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkCollectorRecord is the sink's hot path: one user recording into its shard.
func BenchmarkCollectorRecord(b *testing.B) {
	c := benchCollector(b)
	r := c.Shard(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Record("get", "Get", time.Duration(20000+i&4095)*time.Nanosecond, 100, nil)
	}
}

// BenchmarkCollectorRecordParallel records from GOMAXPROCS goroutines, each on its own
// user (and so spread over the shards), as a worker's users do.
func BenchmarkCollectorRecordParallel(b *testing.B) {
	c := benchCollector(b)
	id := make(chan int, 1024)
	for i := 0; i < cap(id); i++ {
		id <- i
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := c.Shard(<-id)
		i := 0
		for pb.Next() {
			r.Record("get", "Get", time.Duration(20000+i&4095)*time.Nanosecond, 100, nil)
			i++
		}
	})
}

// echoServer is a loopback TCP echo server: a round trip to it is the cheapest
// realistic request (a ZooKeeper read on loopback costs more; on a LAN, several times more).
func echoServer(b *testing.B) net.Conn {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Skip("no loopback:", err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		io.Copy(s, s)
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// BenchmarkRecordOverhead compares what recording a request costs without the sink
// (Locust stats only, as a worker without extended statistics), with the sink as a
// worker records into it (a record.LockedSink: under the Locust shard's lock, in the
// same call), and with the sink as a separate Recorder taking its own lock (as before
// LockedSink, and as any other record.Sink is used). Each is alone and beside a 64-byte
// loopback TCP round trip timed with time.Now as a task times a request.
func BenchmarkRecordOverhead(b *testing.B) {
	const none, oneLock, twoLocks = 0, 1, 2
	run := func(b *testing.B, sinkMode int, withRequest bool) {
		rec := recorder.New(recorder.Options{})
		shard := rec.Shard(0)
		var sink record.Recorder
		switch sinkMode {
		case oneLock:
			sink = benchCollector(b).LockedShard(shard.Locker())
		case twoLocks:
			sink = benchCollector(b).Shard(0)
		}
		var conn net.Conn
		msg := make([]byte, 64)
		if withRequest {
			conn = echoServer(b)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start := time.Now()
			if conn != nil {
				if _, err := conn.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(conn, msg); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			switch sinkMode {
			case none:
				shard.Record("get", "Get", elapsed, 64, nil)
			case oneLock:
				shard.RecordAlso(sink, "get", "Get", elapsed, 64, nil)
			case twoLocks:
				shard.Record("get", "Get", elapsed, 64, nil)
				sink.Record("get", "Get", elapsed, 64, nil)
			}
		}
	}
	b.Run("record/locust", func(b *testing.B) { run(b, none, false) })
	b.Run("record/locust+sink", func(b *testing.B) { run(b, oneLock, false) })
	b.Run("record/locust+sink-two-locks", func(b *testing.B) { run(b, twoLocks, false) })
	b.Run("request/locust", func(b *testing.B) { run(b, none, true) })
	b.Run("request/locust+sink", func(b *testing.B) { run(b, oneLock, true) })
	b.Run("request/locust+sink-two-locks", func(b *testing.B) { run(b, twoLocks, true) })
}

// BenchmarkCollect is one snapshot (the background goroutine's work per interval) with
// 10 entries recorded on every one of 16 shards, both files written.
func BenchmarkCollect(b *testing.B) {
	c, err := New(Options{Interval: time.Hour, Shards: 16, CSVPath: filepath.Join(b.TempDir(), "s.csv"),
		DistribPath: filepath.Join(b.TempDir(), "d.jsonl")})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	names := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for s := 0; s < 16; s++ {
			r := c.Shard(s)
			for j, n := range names {
				for k := 0; k < 100; k++ {
					r.Record("get", n, time.Duration(10000+j*1000+k*37)*time.Microsecond/100, 10, nil)
				}
			}
		}
		b.StartTimer()
		if err := c.Collect(); err != nil {
			b.Fatal(err)
		}
	}
}
