package promexport

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkGather is one scrape's work beside the users (never on their path): 10
// entries of 10 000 requests each, spread from 50 µs to 50 ms, to counters and buckets.
func BenchmarkGather(b *testing.B) {
	c := newCollector(b)
	for i := range 10 {
		r := c.Shard(i)
		for k := range 10_000 {
			r.Record("get", "/"+strconv.Itoa(i), time.Duration(50+k*5)*time.Microsecond, 0, nil)
		}
	}
	if err := c.Collect(); err != nil {
		b.Fatal(err)
	}
	reg, err := NewRegistry(Options{Stats: c})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
