package recorder

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/zkload/zkload/boomer/wire"
)

// Report returns what was recorded since the previous Report or Clear (or New), in
// the shape of a Locust worker's stats message, and starts a new interval:
//
//   - Stats has one entry per (method, name) with requests in the interval, sorted by
//     name then method;
//   - StatsTotal, named "Aggregated" with method "", is the merge of all entries (the
//     master takes its Aggregated row from it alone), and is there even when idle;
//   - Errors maps wire.ErrorKey(method, name, text) to each distinct error, where text
//     is the error's text with object addresses scrubbed (wire.ScrubAddress), so that
//     keys match those of Python workers.
//
// Every entry's StartTime is the time of the previous Report or Clear (or New).
// LastRequestTimestamp is nil without requests and MinResponseTime is nil without
// timed requests; the maps are never nil. UserClassesCount and UserCount are left to
// the caller.
//
// A request whose Record returned before Report was called is in this report unless
// an earlier one had it; a request recorded during Report is in this report or the
// next. None is reported twice.
func (r *Recorder) Report() wire.StatsReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The new interval starts before any shard is swapped, so every request that
	// lands in it was recorded after its start time.
	startNS := r.startNS
	nowNS, anchor := r.newInterval()
	r.startNS = nowNS
	m := merger{entries: make(map[entryKey]*agg), errors: make(map[errorKey]*errorEntry)}
	for i := range r.shards {
		m.drain(r.shards[i].swap(anchor))
	}
	return m.report(startNS)
}

// Clear drops everything recorded and not yet reported and starts a new interval, as
// when a new test begins.
func (r *Recorder) Clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	nowNS, anchor := r.newInterval()
	r.startNS = nowNS
	for i := range r.shards {
		g := r.shards[i].swap(anchor)
		// Drop the entries themselves, not just their counts: the next test may
		// use other names, and the old ones should not linger.
		clear(g.entries)
		g.last = nil
	}
}

// swap makes the shard record into its other generation, with the clock anchor a
// (if not nil), and returns the generation it recorded into until now. The caller
// owns the returned generation (no Record can reach it) until it swaps again, which
// it must not do before draining it.
func (s *Shard) swap(a *clockAnchor) *gen {
	s.mu.Lock()
	if a != nil {
		s.anchor.Store(a)
	}
	old := s.cur
	if old == &s.gens[0] {
		s.cur = &s.gens[1]
	} else {
		s.cur = &s.gens[0]
	}
	s.mu.Unlock()
	return old
}

type errorKey struct{ method, name, text string }

// merger adds up the swapped-out generations of all shards.
type merger struct {
	entries map[entryKey]*agg
	total   agg
	errors  map[errorKey]*errorEntry
}

// drain adds g to m and empties g for reuse. Entries and errors that saw nothing in
// g's interval are deleted rather than kept, so that names or error texts used once
// (an id in a URL, an address in a message) do not pile up.
func (m *merger) drain(g *gen) {
	for k, e := range g.entries {
		if e.numReqs == 0 {
			delete(g.entries, k)
			continue
		}
		a := m.entries[k]
		if a == nil {
			a = newAgg()
			m.entries[k] = a
		}
		a.add(e)
		m.total.add(e)
		if e.numFail > 0 {
			m.drainErrors(k, e)
		}
		e.reset()
	}
	g.last = nil
}

// drainErrors adds e's errors to m, zeroes the ones that occurred and drops the rest.
func (m *merger) drainErrors(k entryKey, e *entry) {
	kept := e.errs[:0]
	for _, ee := range e.errs {
		if m.takeError(k, ee) {
			kept = append(kept, ee)
		}
	}
	clear(e.errs[len(kept):])
	e.errs = kept
	for text, ee := range e.errMap {
		if !m.takeError(k, ee) {
			delete(e.errMap, text)
		}
	}
}

// takeError adds ee to m and zeroes it; it reports whether ee occurred at all.
func (m *merger) takeError(k entryKey, ee *errorEntry) bool {
	if ee.occurrences == 0 {
		return false
	}
	ek := errorKey{k.method, k.name, ee.text}
	mm := m.errors[ek]
	if mm == nil {
		mm = &errorEntry{firstNS: ee.firstNS}
		m.errors[ek] = mm
	}
	mm.occurrences += ee.occurrences
	mm.firstNS = min(mm.firstNS, ee.firstNS)
	mm.lastNS = max(mm.lastNS, ee.lastNS)
	ee.occurrences, ee.firstNS, ee.lastNS = 0, 0, 0
	return true
}

func (m *merger) report(startNS int64) wire.StatsReport {
	rep := wire.StatsReport{
		Stats:  make([]wire.StatsEntry, 0, len(m.entries)),
		Errors: make(map[string]wire.StatsError, len(m.errors)),
	}
	for k, a := range m.entries {
		rep.Stats = append(rep.Stats, a.toWire(k.method, k.name, startNS))
	}
	slices.SortFunc(rep.Stats, func(x, y wire.StatsEntry) int {
		if c := cmp.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		return cmp.Compare(x.Method, y.Method)
	})
	if m.total.reqSec == nil {
		m.total.init()
	}
	rep.StatsTotal = m.total.toWire("", "Aggregated", startNS)
	// The sha256 key and the address scrubbing wait until now, once per distinct
	// error per report, instead of costing every failing request. Texts that differ
	// only by an address become one error.
	for k, ee := range m.errors {
		text := wire.ScrubAddress(k.text)
		key := wire.ErrorKey(k.method, k.name, text)
		we, ok := rep.Errors[key]
		if !ok {
			we = wire.StatsError{Name: k.name, Method: k.method, Error: text, FirstSeen: math.Inf(1)}
		}
		we.Occurrences += ee.occurrences
		we.FirstSeen = min(we.FirstSeen, unixSeconds(ee.firstNS))
		we.LastSeen = max(we.LastSeen, unixSeconds(ee.lastNS))
		rep.Errors[key] = we
	}
	return rep
}

// agg is one (method, name), or the total, merged over all shards.
type agg struct {
	numReqs, numNone, numFail int64
	sumNS, minNS, maxNS       int64
	contentLength, lastNS     int64
	hist                      [histSlots]int64
	overflow                  map[int64]int64
	reqSec, failSec           map[int64]int64
}

func newAgg() *agg {
	a := &agg{}
	a.init()
	return a
}

func (a *agg) init() {
	a.minNS = math.MaxInt64
	a.overflow = make(map[int64]int64)
	a.reqSec = make(map[int64]int64)
	a.failSec = make(map[int64]int64)
}

func (a *agg) add(e *entry) {
	if a.reqSec == nil {
		a.init()
	}
	a.numReqs += e.numReqs
	a.numNone += e.numNone
	a.numFail += e.numFail
	a.sumNS += e.sumNS
	a.minNS = min(a.minNS, e.minNS)
	a.maxNS = max(a.maxNS, e.maxNS)
	a.contentLength += e.contentLength
	a.lastNS = max(a.lastNS, e.lastNS)
	if e.numReqs > e.numNone {
		for i, n := range e.hist {
			a.hist[i] += n
		}
	}
	for k, n := range e.overflow {
		a.overflow[k] += n
	}
	for _, p := range e.reqSec {
		a.reqSec[p.sec] += p.n
	}
	for _, p := range e.failSec {
		a.failSec[p.sec] += p.n
	}
}

func (a *agg) toWire(method, name string, startNS int64) wire.StatsEntry {
	w := wire.StatsEntry{
		Name:               name,
		Method:             method,
		StartTime:          unixSeconds(startNS),
		NumRequests:        a.numReqs,
		NumNoneRequests:    a.numNone,
		NumFailures:        a.numFail,
		TotalResponseTime:  millis(a.sumNS),
		MaxResponseTime:    millis(a.maxNS),
		TotalContentLength: a.contentLength,
		ResponseTimes:      make(map[int64]int64, len(a.overflow)),
		NumReqsPerSec:      a.reqSec,
		NumFailPerSec:      a.failSec,
	}
	if a.numReqs > 0 {
		ts := unixSeconds(a.lastNS)
		w.LastRequestTimestamp = &ts
	}
	if a.numReqs > a.numNone {
		mn := millis(a.minNS)
		w.MinResponseTime = &mn
		for i, n := range a.hist {
			if n != 0 {
				w.ResponseTimes[keyOf(i)] = n
			}
		}
		for k, n := range a.overflow {
			w.ResponseTimes[k] = n
		}
	}
	return w
}

func millis(ns int64) float64 { return float64(ns) / 1e6 }

// unixSeconds converts unix nanoseconds to Locust's float unix seconds. Whole seconds
// convert exactly, so the only rounding is that of the fraction and of the sum: a
// timestamp that is a multiple of 1/2**k s comes out exact.
func unixSeconds(ns int64) float64 {
	return float64(ns/int64(time.Second)) + float64(ns%int64(time.Second))/1e9
}
