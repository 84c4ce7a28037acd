package recorder

import "math"

// Bucket returns the response-time bucket, in whole milliseconds, that Locust files a
// response time of rt milliseconds under: rt rounded to 1 ms below 100 ms, to 10 ms
// below 1 s, to 100 ms below 10 s and to 1 s above, halves to even as Python's round
// does (145 -> 140, 155 -> 160, 15500 -> 16000).
func Bucket(rt float64) int64 {
	var m float64
	switch {
	case rt < 100:
		return int64(math.RoundToEven(rt))
	case rt < 1000:
		m = 10
	case rt < 10000:
		m = 100
	default:
		m = 1000
	}
	// Python rounds the exact decimal value of rt. rt/m is exact at every tie
	// ((2k+1)*m/2 divided by m is k+0.5, representable), and a non-tie never divides
	// onto a tie because rt's ulp is at least 8 times rt/m's, so this matches Python.
	return int64(math.RoundToEven(rt/m) * m)
}

// The histogram of one entry is a fixed array indexed by slot. Bucket keys are dense
// per range, so a slot is a few integer operations away from its key:
//
//	keys 0..100 step 1         -> slots 0..100
//	keys 110..1000 step 10     -> slots 101..190
//	keys 1100..10000 step 100  -> slots 191..280
//	keys 11000..60000 step 1000 -> slots 281..330
//
// Keys above 60 s (rare: most clients time out sooner) go to a per-entry overflow map.
// The array reaches 60 s rather than 10 s because timeouts of 10 to 60 s are common and
// a failing endpoint should not pay for map inserts.
const (
	slotsFine   = 101 // 0..100
	slotsMid    = 90  // 110..1000
	slotsCoarse = 90  // 1100..10000
	slotsSlow   = 50  // 11000..60000
	histSlots   = slotsFine + slotsMid + slotsCoarse + slotsSlow
	maxSlotKey  = 60000
)

// slotOf returns the histogram slot of bucket key k, or -1 if k is beyond the array
// (or negative, which Bucket never returns for a real duration).
func slotOf(k int64) int {
	switch {
	case k < 0:
		return -1
	case k <= 100:
		return int(k)
	case k <= 1000:
		return slotsFine - 1 + int((k-100)/10)
	case k <= 10000:
		return slotsFine + slotsMid - 1 + int((k-1000)/100)
	case k <= maxSlotKey:
		return slotsFine + slotsMid + slotsCoarse - 1 + int((k-10000)/1000)
	}
	return -1
}

// keyOf is the inverse of slotOf.
func keyOf(slot int) int64 {
	s := int64(slot)
	switch {
	case slot < slotsFine:
		return s
	case slot < slotsFine+slotsMid:
		return 100 + (s-(slotsFine-1))*10
	case slot < slotsFine+slotsMid+slotsCoarse:
		return 1000 + (s-(slotsFine+slotsMid-1))*100
	}
	return 10000 + (s-(slotsFine+slotsMid+slotsCoarse-1))*1000
}

// bucketNS is Bucket for a response time in whole nanoseconds, in integer arithmetic:
// what Record computes for every request. It equals Bucket(float64(ns)/1e6) for every
// ns >= 0 (the float quotient is the exact one correctly rounded, which never moves a
// value onto or off a tie of the rounding that follows; TestBucketNSIsBucket checks it).
func bucketNS(ns int64) int64 {
	var unit int64 // the bucket's width in ns
	switch {
	case ns < 99_500_000: // rounds to < 100 ms; Bucket's rt < 100 includes [99.5, 100), which rounds to 100 either way
		unit = 1_000_000
	case ns < 1_000_000_000:
		unit = 10_000_000
	case ns < 10_000_000_000:
		unit = 100_000_000
	default:
		unit = 1_000_000_000
	}
	q, r := ns/unit, ns%unit
	if half := unit / 2; r > half || (r == half && q&1 == 1) {
		q++
	}
	return q * (unit / 1_000_000)
}
