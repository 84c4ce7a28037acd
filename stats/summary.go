// Package stats is zkload's extended statistics: what each worker measures beside the
// Locust stats it sends to the master, at microsecond resolution and over time.
//
// A Collector is a record.Sink. Users record into per-shard windowed HDR histograms
// (1 µs to 1 h, 3 significant digits); every interval a background goroutine swaps the
// shards' windows out, merges them per (method, name) and for the total, and appends
// one row per entry to a time-series CSV (zk-locust's --stats-csv columns first, then
// zkload's own) and one record per entry to a distribution file holding the full
// window histogram in HdrHistogram's V2 compressed encoding. ReadDistributions and
// Merge let a report generator merge those files across workers and intervals exactly.
// doc/stats.md describes the columns and the encoding.
package stats

import (
	"maps"
	"math"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/zkload/zkload/record"
)

// Histogram geometry shared by every histogram of this package: values are response
// times in whole microseconds, from 1 µs to one hour, with 3 significant digits. Longer
// times are recorded as HighestMicros.
const (
	LowestMicros      = 1
	HighestMicros     = int64(time.Hour / time.Microsecond)
	SignificantDigits = 3
)

// NewHistogram returns an empty histogram with the package's geometry.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestMicros, HighestMicros, SignificantDigits)
}

// Key identifies a stats entry as Locust does: the request's method and name. The total
// over all entries has an empty Method and the Name "Total".
type Key struct {
	Method string
	Name   string
}

// TotalKey is the key of the total entry.
var TotalKey = Key{Name: "Total"}

// IsTotal reports whether k is the total entry's key.
func (k Key) IsTotal() bool { return k == TotalKey }

// IsValue reports whether k is a value series, not requests (record.IsValue: an open
// loop's "~schedule_lag"). Its "requests" count values, its response times are the
// values; it is never part of the Total, nor of any request count or rate.
func (k Key) IsValue() bool { return record.IsValue(k.Method) }

// Summary is the statistics of a set of requests: counts, exact sums and extremes, the
// errors by text, and the response-time histogram in microseconds. Summaries merge
// exactly (Add), which is how windows become cumulative statistics and how the
// distributions of several workers become one.
type Summary struct {
	Requests int64
	Failures int64
	// SumNanos is the sum of the response times, in nanoseconds (exact).
	SumNanos int64
	// MinNanos and MaxNanos are the exact extremes, in nanoseconds; 0 when empty.
	MinNanos int64
	MaxNanos int64
	// ContentLength is the sum of the response sizes, in bytes.
	ContentLength int64
	// Errors counts the failures by error text; nil when there are none.
	Errors map[string]int64
	// Hist holds the response times in whole microseconds (see NewHistogram).
	Hist *hdrhistogram.Histogram
}

// NewSummary returns an empty summary with its histogram.
func NewSummary() *Summary { return &Summary{Hist: NewHistogram()} }

// summaryFor returns m's summary for k, adding an empty one if there is none.
func summaryFor(m map[Key]*Summary, k Key) *Summary {
	s := m[k]
	if s == nil {
		s = NewSummary()
		m[k] = s
	}
	return s
}

// record adds one request. It does not allocate unless err is a new error text.
func (s *Summary) record(elapsed time.Duration, contentLength int64, err error) {
	ns := int64(elapsed)
	if ns < 0 {
		ns = 0
	}
	if s.Requests == 0 || ns < s.MinNanos {
		s.MinNanos = ns
	}
	if ns > s.MaxNanos {
		s.MaxNanos = ns
	}
	s.Requests++
	s.SumNanos += ns
	s.ContentLength += contentLength
	_ = s.Hist.RecordValue(micros(ns)) // micros clamps to the histogram's range
	if err != nil {
		s.Failures++
		if s.Errors == nil {
			s.Errors = make(map[string]int64)
		}
		s.Errors[err.Error()]++
	}
}

// micros rounds a time in nanoseconds to whole microseconds, within the histogram's range.
func micros(ns int64) int64 {
	us := (ns + 500) / 1000
	if us > HighestMicros {
		return HighestMicros
	}
	return us
}

// Add merges o into s. Histograms merge exactly since they share one geometry.
func (s *Summary) Add(o *Summary) {
	if o.Requests == 0 {
		return
	}
	if s.Requests == 0 || o.MinNanos < s.MinNanos {
		s.MinNanos = o.MinNanos
	}
	if o.MaxNanos > s.MaxNanos {
		s.MaxNanos = o.MaxNanos
	}
	s.Requests += o.Requests
	s.Failures += o.Failures
	s.SumNanos += o.SumNanos
	s.ContentLength += o.ContentLength
	if len(o.Errors) > 0 {
		if s.Errors == nil {
			s.Errors = make(map[string]int64, len(o.Errors))
		}
		for k, v := range o.Errors {
			s.Errors[k] += v
		}
	}
	s.Hist.Merge(o.Hist)
}

// Reset empties s, keeping its histogram's memory.
func (s *Summary) Reset() {
	h := s.Hist
	h.Reset()
	*s = Summary{Hist: h}
}

// Clone returns a deep copy of s.
func (s *Summary) Clone() *Summary {
	c := *s
	c.Errors = maps.Clone(s.Errors)
	c.Hist = NewHistogram()
	c.Hist.Merge(s.Hist)
	return &c
}

// Percentile returns the response time at percentile p (0-100) in microseconds, as
// HdrHistogram reads it: the highest value equivalent (within 3 significant digits) to
// the recorded value at that rank; 0 when empty.
func (s *Summary) Percentile(p float64) int64 { return s.Hist.ValueAtPercentile(p) }

// MeanNanos returns the exact mean response time in nanoseconds; 0 when empty.
func (s *Summary) MeanNanos() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.SumNanos) / float64(s.Requests)
}

// AvgContentLength returns the mean response size in bytes; 0 when empty.
func (s *Summary) AvgContentLength() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.ContentLength) / float64(s.Requests)
}

// Equal reports whether s and o hold the same statistics (histograms compared bucket
// by bucket).
func (s *Summary) Equal(o *Summary) bool {
	return s.Requests == o.Requests && s.Failures == o.Failures && s.SumNanos == o.SumNanos &&
		s.MinNanos == o.MinNanos && s.MaxNanos == o.MaxNanos && s.ContentLength == o.ContentLength &&
		maps.Equal(s.Errors, o.Errors) && s.Hist.Equals(o.Hist)
}

// rate returns n per second over d, 0 for an empty span.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	r := float64(n) / d.Seconds()
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return 0
	}
	return r
}
