// Package locuststats does a Locust master's side of the statistics, as Locust 2.12.1
// does it: it merges the deltas workers report (wire.StatsReport) into cumulative
// entries, computes medians, percentiles, averages and request rates with the
// master's formulas, writes the four CSV files of `locust --csv` and prints the
// console tables. Numbers come out as Python prints them (see Num and pyfmt.Float), so a
// run without a master gives the files a master would have written.
//
// Data flow: reports → Stats.Add (merge) → CSV.Write / WriteSummary (output).
package locuststats

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/zkload/zkload/boomer/wire"
)

// Percentiles are the percentiles Locust reports (PERCENTILES_TO_REPORT).
var Percentiles = []float64{0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0}

// percentileHeaders are Percentiles as Locust names its columns.
var percentileHeaders = []string{"50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"}

// Locust's window for current percentiles (CURRENT_RESPONSE_TIME_PERCENTILE_WINDOW)
// and the number of cached histograms per entry (the window + 10).
const (
	currentWindow = 10
	cacheSize     = currentWindow + 10
)

// Entry is the master's cumulative StatsEntry for one (name, method), or the
// Aggregated row. Fields hold what Python holds, int or float alike.
type Entry struct {
	Name   string
	Method string

	NumRequests        int64
	NumNoneRequests    int64
	NumFailures        int64
	TotalResponseTime  float64
	MaxResponseTime    Num      // the int 0 until a larger (float) time arrives
	MinResponseTime    *float64 // nil until a timed request arrives
	TotalContentLength int64
	// StartTime is the earliest of the entry's creation (the master's clock) and
	// every merged start time; LastRequestTimestamp the latest request, nil if none.
	StartTime            float64
	LastRequestTimestamp *float64
	ResponseTimes        map[int64]int64 // rounded ms bucket -> count
	NumReqsPerSec        map[int64]int64
	NumFailPerSec        map[int64]int64

	cache []cachedTimes // response_times_cache, oldest first
}

type cachedTimes struct {
	sec   int64
	times map[int64]int64
	n     int64
}

func newEntry(name, method string, now float64) *Entry {
	e := &Entry{Name: name, Method: method, StartTime: now,
		ResponseTimes: map[int64]int64{}, NumReqsPerSec: map[int64]int64{}, NumFailPerSec: map[int64]int64{}}
	e.cacheTimes(int64(now))
	return e
}

// extend merges one reported delta into e, as StatsEntry.extend does.
func (e *Entry) extend(o *wire.StatsEntry) {
	oldLast := e.LastRequestTimestamp
	if o.LastRequestTimestamp != nil && (e.LastRequestTimestamp == nil || *o.LastRequestTimestamp > *e.LastRequestTimestamp) {
		v := *o.LastRequestTimestamp
		e.LastRequestTimestamp = &v
	}
	e.StartTime = min(e.StartTime, o.StartTime)
	e.NumRequests += o.NumRequests
	e.NumNoneRequests += o.NumNoneRequests
	e.NumFailures += o.NumFailures
	e.TotalResponseTime += o.TotalResponseTime
	if o.MaxResponseTime > e.MaxResponseTime.V { // Python's max keeps the first of equals
		e.MaxResponseTime = Float(o.MaxResponseTime)
	}
	if o.MinResponseTime != nil && (e.MinResponseTime == nil || *o.MinResponseTime < *e.MinResponseTime) {
		v := *o.MinResponseTime
		e.MinResponseTime = &v
	}
	e.TotalContentLength += o.TotalContentLength
	for k, v := range o.ResponseTimes {
		e.ResponseTimes[k] += v
	}
	for k, v := range o.NumReqsPerSec {
		e.NumReqsPerSec[k] += v
	}
	for k, v := range o.NumFailPerSec {
		e.NumFailPerSec[k] += v
	}
	if e.LastRequestTimestamp != nil {
		last := int64(*e.LastRequestTimestamp)
		var old int64
		if oldLast != nil {
			old = int64(*oldLast)
		}
		if last != 0 && last > old {
			e.cacheTimes(last)
		}
	}
}

// cacheTimes stores a copy of the histogram for second t (_cache_response_times).
func (e *Entry) cacheTimes(t int64) {
	c := cachedTimes{sec: t, times: maps.Clone(e.ResponseTimes), n: e.NumRequests}
	for i := range e.cache {
		if e.cache[i].sec == t { // an OrderedDict keeps the key's place
			e.cache[i] = c
			return
		}
	}
	e.cache = append(e.cache, c)
	if len(e.cache) > cacheSize {
		e.cache = slices.Delete(e.cache, 0, len(e.cache)-cacheSize)
	}
}

// AvgResponseTime is total_response_time / timed requests, or 0.0.
func (e *Entry) AvgResponseTime() Num {
	n := e.NumRequests - e.NumNoneRequests
	if n == 0 {
		return Float(0)
	}
	return Float(e.TotalResponseTime / float64(n))
}

// MedianResponseTime is the median bucket clamped to [min, max]: an int bucket, or
// the float min or max when clamped.
func (e *Entry) MedianResponseTime() Num {
	if len(e.ResponseTimes) == 0 {
		return Int(0)
	}
	med := Int(medianFromDict(e.NumRequests-e.NumNoneRequests, e.ResponseTimes))
	switch {
	case med.V > e.MaxResponseTime.V:
		med = e.MaxResponseTime
	case e.MinResponseTime != nil && med.V < *e.MinResponseTime:
		med = Float(*e.MinResponseTime)
	}
	return med
}

// MinOrZero is Python's `min_response_time or 0`.
func (e *Entry) MinOrZero() Num {
	if e.MinResponseTime == nil {
		return Int(0)
	}
	return Float(*e.MinResponseTime).orZero()
}

// AvgContentLength is total_content_length / num_requests (a float), or the int 0.
func (e *Entry) AvgContentLength() Num {
	if e.NumRequests == 0 {
		return Int(0)
	}
	return Float(float64(e.TotalContentLength) / float64(e.NumRequests))
}

// Percentile is calculate_response_time_percentile over the whole run.
func (e *Entry) Percentile(p float64) int64 {
	return percentile(e.ResponseTimes, e.NumRequests, p)
}

// CurrentPercentile is the percentile over about the last 10 s before now, from the
// cached histograms; ok is false when no cached histogram fits (Python's None).
func (e *Entry) CurrentPercentile(p float64, now float64) (v int64, ok bool) {
	t := int64(now)
	accept := []int64{t - currentWindow}
	for i := int64(1); i < 9; i++ {
		accept = append(accept, t-currentWindow-i, t-currentWindow+i)
	}
	for _, ts := range accept {
		for _, c := range e.cache {
			if c.sec != ts {
				continue
			}
			diff := map[int64]int64{}
			for k, v := range e.ResponseTimes {
				if d := v - c.times[k]; d != 0 {
					diff[k] = d
				}
			}
			return percentile(diff, e.NumRequests-c.n, p), true
		}
	}
	return 0, false
}

func medianFromDict(total int64, counts map[int64]int64) int64 {
	pos := float64(total-1) / 2
	keys := slices.Sorted(maps.Keys(counts))
	for _, k := range keys {
		if pos < float64(counts[k]) {
			return k
		}
		pos -= float64(counts[k])
	}
	return keys[len(keys)-1]
}

func percentile(times map[int64]int64, n int64, p float64) int64 {
	target := int64(float64(n) * p)
	var processed int64
	keys := slices.Sorted(maps.Keys(times))
	for i := len(keys) - 1; i >= 0; i-- {
		processed += times[keys[i]]
		if n-processed <= target {
			return keys[i]
		}
	}
	return 0
}

// Error is one distinct error as the master holds it: Text is the error string the
// worker sent (already Python's repr of the exception).
type Error struct {
	Key         string
	Method      string
	Name        string
	Text        string
	Occurrences int64
}

// Exception is one distinct traceback with the nodes that reported it.
type Exception struct {
	Count     int64
	Msg       string
	Traceback string
	Nodes     []string // in first-seen order
}

// Stats is the master's RequestStats: cumulative entries, the Aggregated total, the
// errors and the exceptions of one test. It is safe for concurrent use.
type Stats struct {
	now func() time.Time

	mu         sync.Mutex
	entries    map[[2]string]*Entry // (name, method)
	total      *Entry
	errors     map[string]*Error
	errOrder   []string // insertion order, as the console error report shows them
	exceptions map[string]*Exception
	excOrder   []string
}

// New returns empty stats whose clock is now (nil: time.Now); the clock stamps new
// entries (their start time) and picks the window of current percentiles.
func New(now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	s := &Stats{now: now}
	s.Reset()
	return s
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Reset drops everything, as the master does when a test starts (clear_all).
func (s *Stats) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = map[[2]string]*Entry{}
	s.total = newEntry("Aggregated", "", unix(s.now()))
	s.errors = map[string]*Error{}
	s.errOrder = nil
	s.exceptions = map[string]*Exception{}
	s.excOrder = nil
}

// Add merges one worker report, as the master's worker_report listener does.
func (s *Stats) Add(r *wire.StatsReport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range r.Stats {
		st := &r.Stats[i]
		k := [2]string{st.Name, st.Method}
		e := s.entries[k]
		if e == nil {
			e = newEntry(st.Name, st.Method, unix(s.now()))
			s.entries[k] = e
		}
		e.extend(st)
	}
	// In key order, as a worker's message carries them (wire.StatsReport.EncodeMsgpack).
	for _, key := range slices.Sorted(maps.Keys(r.Errors)) {
		er := r.Errors[key]
		if e := s.errors[key]; e != nil {
			e.Occurrences += er.Occurrences
			continue
		}
		s.errors[key] = &Error{Key: key, Method: er.Method, Name: er.Name, Text: er.Error, Occurrences: er.Occurrences}
		s.errOrder = append(s.errOrder, key)
	}
	s.total.extend(&r.StatsTotal)
}

// AddException records an exception a node reported (the runner's log_exception).
//
// It reports whether the exception is new (its traceback not seen before).
func (s *Stats) AddException(e wire.Exception, node string) (isNew bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.exceptions[e.Traceback]
	if x == nil {
		isNew = true
		x = &Exception{Msg: e.Msg, Traceback: e.Traceback}
		s.exceptions[e.Traceback] = x
		s.excOrder = append(s.excOrder, e.Traceback)
	}
	x.Count++
	if !slices.Contains(x.Nodes, node) {
		x.Nodes = append(x.Nodes, node)
	}
	return isNew
}

// Totals returns the Aggregated row's request and failure counts and the number of
// distinct exceptions, which decide Locust's exit code.
func (s *Stats) Totals() (requests, failures int64, exceptions int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total.NumRequests, s.total.NumFailures, len(s.exceptions)
}

// view is what one output pass reads, taken under the lock.
type view struct {
	entries    []*Entry // sorted by (name, method)
	total      *Entry
	errors     []*Error // sorted by key
	errOrder   []*Error // insertion order
	exceptions []*Exception
	now        float64
}

// lockedView calls f with the current stats; f must not keep what it is given.
func (s *Stats) lockedView(f func(v *view)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &view{total: s.total, now: unix(s.now())}
	for _, e := range s.entries {
		v.entries = append(v.entries, e)
	}
	slices.SortFunc(v.entries, func(a, b *Entry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Method, b.Method))
	})
	for _, k := range s.errOrder {
		v.errOrder = append(v.errOrder, s.errors[k])
	}
	v.errors = slices.Clone(v.errOrder)
	slices.SortFunc(v.errors, func(a, b *Error) int { return cmp.Compare(a.Key, b.Key) })
	for _, k := range s.excOrder {
		v.exceptions = append(v.exceptions, s.exceptions[k])
	}
	f(v)
}

// rate is the mean per-second count over the master's current window: the 10 whole
// seconds before the total's last request, less 2, from the total's start.
func (v *view) rate(perSec map[int64]int64) float64 {
	if v.total.LastRequestTimestamp == nil {
		return 0
	}
	last := int64(*v.total.LastRequestTimestamp)
	from := max(last-12, int64(v.total.StartTime))
	var sum float64
	n := 0
	for t := from; t < last-2; t++ {
		sum += float64(perSec[t])
		n++
	}
	return sum / float64(max(n, 1))
}

// totalRate is count / (total's last request − total's start), or 0.0.
func (v *view) totalRate(count int64) float64 {
	if v.total.LastRequestTimestamp == nil || *v.total.LastRequestTimestamp == 0 || v.total.StartTime == 0 {
		return 0
	}
	d := *v.total.LastRequestTimestamp - v.total.StartTime
	if d == 0 {
		return 0
	}
	return float64(count) / d
}
