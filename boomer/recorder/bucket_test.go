package recorder

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// The examples of the protocol reference (§5.3), checked there against Python.
var bucketExamples = []struct {
	rt   float64
	want int64
}{
	{0, 0}, {0.5, 0}, {1.5, 2}, {2.5, 2}, {47.5, 48}, {99.5, 100},
	{104.9, 100}, {105, 100}, {115, 120}, {125, 120}, {145, 140}, {147, 150}, {155, 160},
	{994.9, 990}, {995, 1000}, {999.6, 1000},
	{1050, 1000}, {1150, 1200}, {1250, 1200}, {3432, 3400}, {9949, 9900}, {9950, 10000},
	{10500, 10000}, {11500, 12000}, {15500, 16000}, {58760, 59000},
}

func TestBucketExamples(t *testing.T) {
	for _, c := range bucketExamples {
		if got := Bucket(c.rt); got != c.want {
			t.Errorf("Bucket(%v) = %d, want %d", c.rt, got, c.want)
		}
	}
}

// bucketInput is one response time handed to Python: as an int or as a float
// literal that Python parses to the same float64.
type bucketInput struct {
	v     float64
	isInt bool
}

func goldenBucketInputs() []bucketInput {
	var in []bucketInput
	f := func(v float64) { in = append(in, bucketInput{v: v}) }
	i := func(v int) { in = append(in, bucketInput{v: float64(v), isInt: true}) }
	for _, c := range bucketExamples {
		f(c.rt)
	}
	// Every tie of every range, exactly and one ulp either side.
	var ties []float64
	for k := 0; k < 100; k++ {
		ties = append(ties, float64(k)+0.5)
	}
	for v := 105; v <= 995; v += 10 {
		ties = append(ties, float64(v))
	}
	for v := 1050; v <= 9950; v += 100 {
		ties = append(ties, float64(v))
	}
	for v := 10500; v <= 99500; v += 1000 {
		ties = append(ties, float64(v))
	}
	for _, v := range ties {
		f(v)
		f(math.Nextafter(v, 0))
		f(math.Nextafter(v, math.Inf(1)))
		if v == math.Trunc(v) {
			i(int(v))
		}
	}
	// Range boundaries, whole milliseconds and tiny values.
	for _, v := range []float64{100, 1000, 10000, 99.99999999, 999.9999999, 9999.999999,
		5e-324, 1e-300, 1e-9, 1e-6, 0.0001, 0.49999999999999994, 0.5000000000000001,
		1e6, 1.23456789e9, 1.23456789e12} {
		f(v)
		f(math.Nextafter(v, 0))
	}
	for v := 0; v <= 200; v++ {
		i(v)
	}
	// Random floats: uniform over 0..100 s, log-uniform over 1 ns..1000 s, and what
	// Record actually computes from a time.Duration (ns/1e6).
	rng := rand.New(rand.NewPCG(1, 2))
	for k := 0; k < 2000; k++ {
		f(rng.Float64() * 100000)
		f(math.Pow(10, -6+12*rng.Float64()))
		f(float64(rng.Int64N(100_000_000_000)) / 1e6)
	}
	return in
}

// TestBucketMatchesLocust compares Bucket with the bucket Locust 2.12.1's own
// StatsEntry._log_response_time files each response time under.
func TestBucketMatchesLocust(t *testing.T) {
	t.Parallel()
	const script = `
import json, sys
from locust.stats import StatsEntry
out = []
for kind, lit in json.load(sys.stdin):
    rt = int(lit) if kind == "i" else float(lit)
    e = StatsEntry(None, "name", "GET")
    e._log_response_time(rt)
    (key,) = e.response_times.keys()
    if key != int(key):
        raise SystemExit("non-integral bucket %r for %r" % (key, rt))
    out.append(int(key))
json.dump(out, sys.stdout)
`
	inputs := goldenBucketInputs()
	req := make([][2]string, len(inputs))
	for k, in := range inputs {
		if in.isInt {
			req[k] = [2]string{"i", strconv.Itoa(int(in.v))}
		} else {
			req[k] = [2]string{"f", strconv.FormatFloat(in.v, 'g', -1, 64)}
		}
	}
	var want []int64
	runLocustPython(t, script, req, &want)
	if len(want) != len(inputs) {
		t.Fatalf("python returned %d buckets for %d inputs", len(want), len(inputs))
	}
	bad := 0
	for k, in := range inputs {
		if got := Bucket(in.v); got != want[k] {
			bad++
			if bad <= 20 {
				t.Errorf("Bucket(%s) = %d, Locust says %d", req[k][1], got, want[k])
			}
		}
	}
	t.Logf("%d response times checked against Locust", len(inputs))
}

func TestSlotsCoverBucketKeys(t *testing.T) {
	seen := map[int]int64{}
	check := func(key int64) {
		slot := slotOf(key)
		if key > maxSlotKey {
			if slot != -1 {
				t.Errorf("slotOf(%d) = %d, want -1 (overflow)", key, slot)
			}
			return
		}
		if slot < 0 || slot >= histSlots {
			t.Fatalf("slotOf(%d) = %d, out of range", key, slot)
		}
		if other, ok := seen[slot]; ok && other != key {
			t.Errorf("keys %d and %d share slot %d", other, key, slot)
		}
		seen[slot] = key
		if back := keyOf(slot); back != key {
			t.Errorf("keyOf(slotOf(%d)) = %d", key, back)
		}
	}
	// Every key Bucket can return up to past the array: walk response times finely.
	for ns := int64(0); ns <= 70_000_000_000; {
		check(Bucket(float64(ns) / 1e6))
		switch {
		case ns < 1_000_000_000:
			ns += 100_000
		default:
			ns += 10_000_000
		}
	}
	if len(seen) != histSlots {
		t.Errorf("bucket keys fill %d slots, want all %d", len(seen), histSlots)
	}
	if slotOf(-1) != -1 {
		t.Errorf("slotOf(-1) = %d, want -1", slotOf(-1))
	}
}
