package recorder

import (
	"math/rand/v2"
	"testing"
)

func TestBucketNSIsBucket(t *testing.T) {
	check := func(ns int64) {
		if got, want := bucketNS(ns), Bucket(float64(ns)/1e6); got != want {
			t.Fatalf("bucketNS(%d) = %d, Bucket(%v) = %d", ns, got, float64(ns)/1e6, want)
		}
	}
	// every tie and its neighbours in each range, then random times up to 10 minutes
	for _, unit := range []int64{1e6, 1e7, 1e8, 1e9} {
		for k := int64(0); k < 2000; k++ {
			for d := int64(-2); d <= 2; d++ {
				if ns := k*unit + unit/2 + d; ns >= 0 {
					check(ns)
				}
				if ns := k*unit + d; ns >= 0 {
					check(ns)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1_000_000; i++ {
		check(r.Int64N(600e9))
		check(r.Int64N(200e6))
	}
}
