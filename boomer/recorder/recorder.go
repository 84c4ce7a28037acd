// Package recorder collects what simulated users record (one call per request) and
// turns it into the delta reports a Locust master merges every few seconds.
//
// Recording is the hot path of the whole worker: every user records every request.
// A Recorder is therefore split into shards; each user records into its own shard,
// whose lock is taken by that shard's few users and, briefly, by the reporter. There
// is no channel, goroutine or lock that all users share, and recording does not
// allocate once an endpoint (and an error text) has been seen.
package recorder

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/zkload/zkload/record"
)

// Options configures a Recorder; the zero value is ready to use.
type Options struct {
	// Shards is the number of shards users are spread over; <= 0 means the smallest
	// power of two >= 4*GOMAXPROCS.
	Shards int
	// Now is the wall clock that timestamps requests and intervals; nil means
	// time.Now. Tests inject a clock.
	Now func() time.Time
}

// Recorder collects requests from many users and reports them as Locust stats deltas.
// Shard, Report and Clear are safe for concurrent use, as is Record on its shards.
type Recorder struct {
	shards []Shard
	clock  func() time.Time // Options.Now, nil if none was injected

	// mu serialises Report and Clear: each swaps every shard's generation and then
	// owns the swapped-out one until it has drained it.
	mu      sync.Mutex
	startNS int64 // unix ns when the current interval began; guarded by mu
}

// New returns an empty Recorder whose first interval starts now.
func New(opts Options) *Recorder {
	n := opts.Shards
	if n <= 0 {
		n = 1
		for n < 4*runtime.GOMAXPROCS(0) {
			n <<= 1
		}
	}
	r := &Recorder{shards: make([]Shard, n), clock: opts.Now}
	startNS, anchor := r.newInterval()
	r.startNS = startNS
	for i := range r.shards {
		s := &r.shards[i]
		s.clock = opts.Now
		s.anchor.Store(anchor)
		for j := range s.gens {
			s.gens[j].init()
		}
		s.cur = &s.gens[0]
	}
	return r
}

// newInterval returns the time in unix ns and, unless a clock was injected, a new
// anchor for the shards' clocks taken at that time.
func (r *Recorder) newInterval() (int64, *clockAnchor) {
	if r.clock != nil {
		return r.clock().UnixNano(), nil
	}
	t := time.Now()
	return t.UnixNano(), &clockAnchor{t: t, unixNS: t.UnixNano()}
}

// clockAnchor lets a shard tell the wall-clock time with one read of the monotonic
// clock, where time.Now reads both the wall and the monotonic clock: on a VM each read
// costs about 20 ns, a fifth of the whole budget of Record. Every Report and Clear
// hands the shards a new anchor, which keeps them within one report interval of any
// step of the system clock.
type clockAnchor struct {
	t      time.Time // carries a monotonic reading
	unixNS int64     // t.UnixNano()
	// Every user reads the anchor on every request: it must not share a cache line
	// with anything that is written.
	_ [128 - 32]byte
}

// unixNano returns the current unix time in nanoseconds.
func (a *clockAnchor) unixNano() int64 {
	return a.unixNS + int64(time.Since(a.t))
}

// Shard returns the shard that user i records into: shard i mod N, for any i,
// negative included. A user should keep the pointer rather than call Shard per request.
func (r *Recorder) Shard(i int) *Shard {
	n := len(r.shards)
	i %= n
	if i < 0 {
		i += n
	}
	return &r.shards[i]
}

// Shard is one slice of a Recorder. Record is safe for concurrent use, but it is
// cheapest when few goroutines share a shard.
type Shard struct {
	shardState
	// Two shards must never share a cache line, or a spatial-prefetch pair of lines,
	// whatever the alignment of the slice they live in: otherwise users on different
	// cores would invalidate each other's lines on every request.
	_ [128 + (64-unsafe.Sizeof(shardState{})%64)%64]byte
}

type shardState struct {
	mu    sync.Mutex
	cur   *gen             // the generation Record writes into; swapped by the reporter under mu
	clock func() time.Time // Options.Now, or nil to use anchor
	// anchor is set by the reporter under mu but read by Record before it locks,
	// hence atomic. Each shard holds its own copy of the pointer so that no line
	// outside the shard is read on the hot path.
	anchor atomic.Pointer[clockAnchor]
	// Two generations, so that the reporter holds mu only to swap a pointer and then
	// drains the old generation without blocking this shard's users.
	gens [2]gen
}

// Record records one request of the given method (any label, e.g. "GET") and name:
// its response time, its response size in bytes and, if err is non-nil, that it
// failed, with err.Error() as the error's text. An elapsed < 0 records a request
// without a response time (Locust's num_none_requests): it is counted but not timed.
func (s *Shard) Record(method, name string, elapsed time.Duration, contentLength int64, err error) {
	s.record(method, name, elapsed, contentLength, err, nil)
}

// Locker returns the lock that Record holds while it records: the lock a
// record.LockedSink's shard for this shard's users records under (RecordAlso).
func (s *Shard) Locker() sync.Locker { return &s.mu }

// RecordAlso records as Record does and, under the same lock, into also: a
// record.LockedSink's shard for Locker. One request then takes one lock, not two.
func (s *Shard) RecordAlso(also record.Recorder, method, name string, elapsed time.Duration, contentLength int64, err error) {
	s.record(method, name, elapsed, contentLength, err, also)
}

// RecordOnly records into also alone, under the shard's lock: a value (record.IsValue)
// for a record.LockedSink's shard for Locker, which never reaches the Locust stats.
func (s *Shard) RecordOnly(also record.Recorder, method, name string, v time.Duration) {
	s.mu.Lock()
	also.Record(method, name, v, 0, nil)
	s.mu.Unlock()
}

func (s *Shard) record(method, name string, elapsed time.Duration, contentLength int64, err error, also record.Recorder) {
	// Everything that does not touch shard state happens before the lock, so the
	// critical section is only map lookups and counter updates.
	var text string
	if err != nil {
		text = err.Error() // sentinel and wrapped errors return a stored string: no allocation
	}
	var nowNS int64
	if s.clock != nil {
		nowNS = s.clock().UnixNano()
	} else {
		nowNS = s.anchor.Load().unixNano()
	}
	sec := nowNS / int64(time.Second)
	ns := int64(elapsed)
	slot := -1
	var key int64
	if ns >= 0 {
		key = bucketNS(ns)
		slot = slotOf(key)
	}

	s.mu.Lock()
	g := s.cur
	e := g.lookup(method, name)
	e.numReqs++
	e.contentLength += contentLength
	if nowNS > e.lastNS {
		e.lastNS = nowNS
	}
	e.reqSec = bumpSecond(e.reqSec, sec)
	if ns < 0 {
		e.numNone++
	} else {
		e.sumNS += ns
		if ns < e.minNS {
			e.minNS = ns
		}
		if ns > e.maxNS {
			e.maxNS = ns
		}
		if slot >= 0 {
			e.hist[slot]++
		} else {
			if e.overflow == nil {
				e.overflow = make(map[int64]int64)
			}
			e.overflow[key]++
		}
	}
	if err != nil {
		e.numFail++
		e.failSec = bumpSecond(e.failSec, sec)
		e.recordError(text, nowNS)
	}
	if also != nil {
		also.Record(method, name, elapsed, contentLength, err)
	}
	s.mu.Unlock()
}

// gen is one generation of a shard's data: everything recorded into the shard since
// the reporter last swapped it in.
type gen struct {
	entries map[entryKey]*entry
	// last caches the most recent entry: users often record the same endpoint again,
	// and comparing two strings (by pointer first) is cheaper than hashing them.
	last    *entry
	lastKey entryKey
}

type entryKey struct{ method, name string }

func (g *gen) init() {
	g.entries = make(map[entryKey]*entry)
}

func (g *gen) lookup(method, name string) *entry {
	if g.last != nil && g.lastKey.method == method && g.lastKey.name == name {
		return g.last
	}
	k := entryKey{method, name}
	e := g.entries[k]
	if e == nil {
		e = newEntry()
		g.entries[k] = e
	}
	g.last, g.lastKey = e, k
	return e
}

// entry is one (method, name) of one generation of one shard. Times are int64
// nanoseconds so that sums are exact; they become float milliseconds in the report.
type entry struct {
	numReqs       int64
	numNone       int64
	numFail       int64
	sumNS         int64
	minNS         int64 // math.MaxInt64 until a timed request
	maxNS         int64
	contentLength int64
	lastNS        int64 // unix ns of the last request, 0 if none
	reqSec        []secCount
	failSec       []secCount
	overflow      map[int64]int64 // bucket keys beyond the histogram array
	// errs holds the entry's distinct error texts. An endpoint fails in a few ways
	// at most, and comparing a few strings (by pointer first) is cheaper than hashing
	// a long text; errMap takes any texts beyond maxListedErrors.
	errs   []*errorEntry
	errMap map[string]*errorEntry
	hist   [histSlots]int64
	// A report covers about 3 s, so a handful of seconds fit in place; more spill
	// to the heap only if reports stall.
	reqSecBuf  [6]secCount
	failSecBuf [6]secCount
}

// maxListedErrors is how many distinct error texts an entry scans linearly.
const maxListedErrors = 8

func (e *entry) recordError(text string, nowNS int64) {
	var ee *errorEntry
	for _, x := range e.errs {
		if x.text == text {
			ee = x
			break
		}
	}
	if ee == nil && e.errMap != nil {
		ee = e.errMap[text]
	}
	if ee == nil {
		ee = &errorEntry{text: text}
		if len(e.errs) < maxListedErrors {
			e.errs = append(e.errs, ee)
		} else {
			if e.errMap == nil {
				e.errMap = make(map[string]*errorEntry)
			}
			e.errMap[text] = ee
		}
	}
	if ee.occurrences == 0 || nowNS < ee.firstNS {
		ee.firstNS = nowNS
	}
	if nowNS > ee.lastNS {
		ee.lastNS = nowNS
	}
	ee.occurrences++
}

// secCount is a count for one unix second.
type secCount struct{ sec, n int64 }

func newEntry() *entry {
	e := &entry{minNS: math.MaxInt64}
	e.reqSec = e.reqSecBuf[:0]
	e.failSec = e.failSecBuf[:0]
	return e
}

// reset empties e for the next interval, keeping its buffers (and a map or slices that
// have grown) so that recording into it again does not allocate.
func (e *entry) reset() {
	e.numReqs, e.numNone, e.numFail = 0, 0, 0
	e.sumNS, e.minNS, e.maxNS = 0, math.MaxInt64, 0
	e.contentLength, e.lastNS = 0, 0
	e.reqSec, e.failSec = e.reqSec[:0], e.failSec[:0]
	clear(e.overflow)
	e.hist = [histSlots]int64{}
}

// bumpSecond adds one to sec's count. Requests arrive in time order, nearly always,
// so the last pair is checked first.
func bumpSecond(s []secCount, sec int64) []secCount {
	if n := len(s); n > 0 && s[n-1].sec == sec {
		s[n-1].n++
		return s
	}
	for i := len(s) - 2; i >= 0; i-- {
		if s[i].sec == sec {
			s[i].n++
			return s
		}
	}
	return append(s, secCount{sec, 1})
}

// errorEntry counts one error text of one entry over one interval. It is padded to
// its own cache lines because it is written on every failure, and small objects
// allocated for different shards could otherwise share a line.
type errorEntry struct {
	text        string
	occurrences int64
	firstNS     int64 // unix ns of the first and last occurrence
	lastNS      int64
	_           [128 - 40]byte
}
