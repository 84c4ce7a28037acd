package recorder

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/wire"
)

// fakeClock is a settable wall clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.Set(t)
	return c
}

func (c *fakeClock) Now() time.Time  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// At sets the clock to t0 + sec seconds.
func (c *fakeClock) At(sec float64) { c.Set(time.Unix(t0, int64(math.Round(sec*1e9)))) }
func ms(v float64) time.Duration    { return time.Duration(math.Round(v * 1e6)) }
func fptr(v float64) *float64       { return &v }
func counts(kv ...int64) map[int64]int64 {
	m := make(map[int64]int64, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// t0 is a whole unix second, so that float seconds in expectations are exact.
const t0 = 1_700_000_000

// locustMerge merges entries as Locust's master does (StatsEntry.extend), starting
// from an empty "Aggregated" row whose start time is the first entry's.
func locustMerge(entries []wire.StatsEntry) wire.StatsEntry {
	out := wire.StatsEntry{Name: "Aggregated", ResponseTimes: map[int64]int64{},
		NumReqsPerSec: map[int64]int64{}, NumFailPerSec: map[int64]int64{}}
	for i, e := range entries {
		if i == 0 || e.StartTime < out.StartTime {
			out.StartTime = e.StartTime
		}
		if e.LastRequestTimestamp != nil && (out.LastRequestTimestamp == nil || *e.LastRequestTimestamp > *out.LastRequestTimestamp) {
			out.LastRequestTimestamp = fptr(*e.LastRequestTimestamp)
		}
		out.NumRequests += e.NumRequests
		out.NumNoneRequests += e.NumNoneRequests
		out.NumFailures += e.NumFailures
		out.TotalResponseTime += e.TotalResponseTime
		out.MaxResponseTime = max(out.MaxResponseTime, e.MaxResponseTime)
		if e.MinResponseTime != nil && (out.MinResponseTime == nil || *e.MinResponseTime < *out.MinResponseTime) {
			out.MinResponseTime = fptr(*e.MinResponseTime)
		}
		out.TotalContentLength += e.TotalContentLength
		for k, v := range e.ResponseTimes {
			out.ResponseTimes[k] += v
		}
		for k, v := range e.NumReqsPerSec {
			out.NumReqsPerSec[k] += v
		}
		for k, v := range e.NumFailPerSec {
			out.NumFailPerSec[k] += v
		}
	}
	return out
}

// checkTotal checks that rep.StatsTotal is the merge of rep.Stats. The float sum of
// response times may differ from the exact one in the last bits.
func checkTotal(t *testing.T, rep wire.StatsReport, start float64) {
	t.Helper()
	want := locustMerge(rep.Stats)
	want.StartTime = start
	got := rep.StatsTotal
	if math.Abs(got.TotalResponseTime-want.TotalResponseTime) > 1e-9*max(1, want.TotalResponseTime) {
		t.Errorf("total response time %v, merge of entries %v", got.TotalResponseTime, want.TotalResponseTime)
	}
	got.TotalResponseTime = want.TotalResponseTime
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stats_total is not the merge of the entries:\n got %s\nwant %s", dump(got), dump(want))
	}
}

func dump(e wire.StatsEntry) string {
	p := func(f *float64) string {
		if f == nil {
			return "nil"
		}
		return fmt.Sprint(*f)
	}
	return fmt.Sprintf("{%q %q last=%s start=%v req=%d none=%d fail=%d total=%v max=%v min=%s len=%d rt=%v rps=%v fps=%v}",
		e.Name, e.Method, p(e.LastRequestTimestamp), e.StartTime, e.NumRequests, e.NumNoneRequests,
		e.NumFailures, e.TotalResponseTime, e.MaxResponseTime, p(e.MinResponseTime),
		e.TotalContentLength, e.ResponseTimes, e.NumReqsPerSec, e.NumFailPerSec)
}

func checkEntry(t *testing.T, got, want wire.StatsEntry) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entry %s %s:\n got %s\nwant %s", want.Method, want.Name, dump(got), dump(want))
	}
}

var (
	errReset   = errors.New("ConnectionResetError(104, 'Connection reset by peer')")
	errTimeout = errors.New("timeout")
)

func TestReportShape(t *testing.T) {
	clock := newFakeClock(time.Unix(t0, 0))
	r := New(Options{Shards: 4, Now: clock.Now})
	a, b := r.Shard(0), r.Shard(1)

	clock.At(0.25)
	a.Record("GET", "/a", ms(3.2), 100, nil)
	b.Record("GET", "/a", ms(47.5), 200, nil)
	clock.At(1.5)
	a.Record("GET", "/a", ms(145), 0, errReset)
	a.Record("POST", "/b", 0, 10, nil)
	b.Record("POST", "/b", -1, 0, errTimeout) // no response time
	clock.At(2.75)
	b.Record("GET", "/a", ms(15500), 300, nil)
	a.Record("GET", "/a", ms(155), 0, errors.New("<Conn object at 0x7f3a10>: refused"))
	b.Record("GET", "/a", ms(999.6), 0, errors.New("<Conn object at 0x7fffee01>: refused"))
	clock.At(3)

	rep := r.Report()
	if len(rep.Stats) != 2 {
		t.Fatalf("got %d entries, want 2: %+v", len(rep.Stats), rep.Stats)
	}
	checkEntry(t, rep.Stats[0], wire.StatsEntry{
		Name: "/a", Method: "GET",
		LastRequestTimestamp: fptr(t0 + 2.75), StartTime: t0,
		NumRequests: 6, NumFailures: 3,
		TotalResponseTime: 3.2 + 47.5 + 145 + 15500 + 155 + 999.6,
		MaxResponseTime:   15500, MinResponseTime: fptr(3.2),
		TotalContentLength: 600,
		ResponseTimes:      counts(3, 1, 48, 1, 140, 1, 160, 1, 1000, 1, 16000, 1),
		NumReqsPerSec:      counts(t0, 2, t0+1, 1, t0+2, 3),
		NumFailPerSec:      counts(t0+1, 1, t0+2, 2),
	})
	checkEntry(t, rep.Stats[1], wire.StatsEntry{
		Name: "/b", Method: "POST",
		LastRequestTimestamp: fptr(t0 + 1.5), StartTime: t0,
		NumRequests: 2, NumNoneRequests: 1, NumFailures: 1,
		MinResponseTime:    fptr(0), // a 0 ms sample is a minimum, not "unset"
		TotalContentLength: 10,
		ResponseTimes:      counts(0, 1),
		NumReqsPerSec:      counts(t0+1, 2),
		NumFailPerSec:      counts(t0+1, 1),
	})
	if rep.StatsTotal.Name != "Aggregated" || rep.StatsTotal.Method != "" {
		t.Errorf("total is named %q %q", rep.StatsTotal.Method, rep.StatsTotal.Name)
	}
	if rep.StatsTotal.NumRequests != 8 || rep.StatsTotal.NumFailures != 4 || rep.StatsTotal.NumNoneRequests != 1 {
		t.Errorf("total counts %s", dump(rep.StatsTotal))
	}
	checkTotal(t, rep, t0)

	scrubbed := "<Conn object at 0x....>: refused"
	wantErrors := map[string]wire.StatsError{
		wire.ErrorKey("GET", "/a", errReset.Error()): {Name: "/a", Method: "GET", Error: errReset.Error(),
			Occurrences: 1, FirstSeen: t0 + 1.5, LastSeen: t0 + 1.5},
		wire.ErrorKey("POST", "/b", "timeout"): {Name: "/b", Method: "POST", Error: "timeout",
			Occurrences: 1, FirstSeen: t0 + 1.5, LastSeen: t0 + 1.5},
		// Two addresses, one error, as on a Python worker.
		wire.ErrorKey("GET", "/a", scrubbed): {Name: "/a", Method: "GET", Error: scrubbed,
			Occurrences: 2, FirstSeen: t0 + 2.75, LastSeen: t0 + 2.75},
	}
	if !reflect.DeepEqual(rep.Errors, wantErrors) {
		t.Errorf("errors:\n got %+v\nwant %+v", rep.Errors, wantErrors)
	}
	if rep.UserClassesCount != nil || rep.UserCount != 0 {
		t.Errorf("user counts set: %v %d", rep.UserClassesCount, rep.UserCount)
	}
}

func checkIdle(t *testing.T, rep wire.StatsReport, start float64) {
	t.Helper()
	if rep.Stats == nil || len(rep.Stats) != 0 {
		t.Errorf("idle stats = %#v, want empty and non-nil", rep.Stats)
	}
	if rep.Errors == nil || len(rep.Errors) != 0 {
		t.Errorf("idle errors = %#v, want empty and non-nil", rep.Errors)
	}
	checkEntry(t, rep.StatsTotal, wire.StatsEntry{
		Name: "Aggregated", StartTime: start,
		ResponseTimes: map[int64]int64{}, NumReqsPerSec: map[int64]int64{}, NumFailPerSec: map[int64]int64{},
	})
}

func TestIdleReportAndStartTimes(t *testing.T) {
	clock := newFakeClock(time.Unix(t0, 0))
	r := New(Options{Now: clock.Now})
	clock.At(3)
	checkIdle(t, r.Report(), t0) // start time is New's, never 0
	clock.At(6)
	checkIdle(t, r.Report(), t0+3)

	clock.At(7.5)
	r.Shard(5).Record("GET", "/x", ms(1), 1, nil)
	clock.At(9)
	rep := r.Report()
	if len(rep.Stats) != 1 || rep.Stats[0].StartTime != t0+6 || rep.StatsTotal.StartTime != t0+6 {
		t.Fatalf("start times after idle reports: %+v", rep)
	}
	// An entry that saw nothing in an interval is not reported.
	clock.At(12)
	checkIdle(t, r.Report(), t0+9)
}

func TestClearDropsUnreported(t *testing.T) {
	clock := newFakeClock(time.Unix(t0, 0))
	r := New(Options{Shards: 2, Now: clock.Now})
	clock.At(1)
	for i := 0; i < 10; i++ {
		r.Shard(i).Record("GET", "/old", ms(5), 1, errTimeout)
	}
	clock.At(2)
	r.Clear()
	clock.At(4)
	checkIdle(t, r.Report(), t0+2)

	// Recording after Clear works as before, into both generations of every shard.
	for round := 0; round < 3; round++ {
		clock.At(5 + 3*float64(round))
		for i := 0; i < 4; i++ {
			r.Shard(i).Record("GET", "/new", ms(5), 1, errTimeout)
		}
		rep := r.Report()
		if len(rep.Stats) != 1 || rep.Stats[0].Name != "/new" || rep.Stats[0].NumRequests != 4 {
			t.Fatalf("round %d after Clear: %+v", round, rep.Stats)
		}
		if e := rep.Errors[wire.ErrorKey("GET", "/new", "timeout")]; e.Occurrences != 4 {
			t.Fatalf("round %d: errors %+v", round, rep.Errors)
		}
	}
}

// TestConformanceLatencies records the reference's checklist load (§9 item 13):
// exactly 100 requests at fixed latencies, 20 of them failing with one error.
func TestConformanceLatencies(t *testing.T) {
	clock := newFakeClock(time.Unix(t0, 0))
	r := New(Options{Now: clock.Now})
	latencies := []float64{3.2, 47.5, 145, 155, 999.6, 1234, 15500}
	wantBuckets := map[int64]int64{}
	var sum float64
	for i := 0; i < 100; i++ {
		rt := latencies[i%len(latencies)]
		var err error
		if i%5 == 0 {
			err = errReset
		}
		r.Shard(i).Record("GET", "/load", ms(rt), 1, err)
		wantBuckets[Bucket(rt)]++
		sum += rt
	}
	rep := r.Report()
	if len(rep.Stats) != 1 {
		t.Fatalf("entries: %+v", rep.Stats)
	}
	e := rep.Stats[0]
	if e.NumRequests != 100 || e.NumFailures != 20 {
		t.Errorf("requests %d failures %d, want 100 and 20", e.NumRequests, e.NumFailures)
	}
	if *e.MinResponseTime != 3.2 || e.MaxResponseTime != 15500 {
		t.Errorf("min %v max %v", *e.MinResponseTime, e.MaxResponseTime)
	}
	if math.Abs(e.TotalResponseTime-sum) > 1e-6 {
		t.Errorf("total response time %v, want %v", e.TotalResponseTime, sum)
	}
	// Half to even: 145 -> 140 and 15500 -> 16000, where boomer said 150 and 15000/16000.
	for rt, key := range map[float64]int64{3.2: 3, 47.5: 48, 145: 140, 155: 160, 999.6: 1000, 1234: 1200, 15500: 16000} {
		if Bucket(rt) != key {
			t.Errorf("Bucket(%v) = %d, want %d", rt, Bucket(rt), key)
		}
	}
	if !maps.Equal(e.ResponseTimes, wantBuckets) {
		t.Errorf("buckets %v, want %v", e.ResponseTimes, wantBuckets)
	}
	if !maps.Equal(e.ResponseTimes, counts(3, 15, 48, 15, 140, 14, 160, 14, 1000, 14, 1200, 14, 16000, 14)) {
		t.Errorf("buckets %v", e.ResponseTimes)
	}
	if len(rep.Errors) != 1 || rep.Errors[wire.ErrorKey("GET", "/load", errReset.Error())].Occurrences != 20 {
		t.Errorf("errors %+v", rep.Errors)
	}
	checkTotal(t, rep, t0)
}

func TestOverflowAndManyErrors(t *testing.T) {
	clock := newFakeClock(time.Unix(t0, 0))
	r := New(Options{Shards: 1, Now: clock.Now})
	s := r.Shard(0)
	for round := 0; round < 2; round++ {
		start := clock.Now()
		// More distinct seconds than an entry keeps in place, out of order too.
		for sec := 9; sec >= 0; sec-- {
			clock.Set(start.Add(time.Duration(sec) * time.Second))
			s.Record("GET", "/slow", 61*time.Second, 0, nil)
			s.Record("GET", "/slow", 75500*time.Millisecond, 0, nil) // -> 76000
			s.Record("GET", "/slow", 60*time.Second, 0, nil)         // last array slot
		}
		// More distinct error texts than an entry scans linearly.
		for i := 0; i < 3*maxListedErrors; i++ {
			for j := 0; j <= i%3; j++ {
				s.Record("GET", "/err", time.Millisecond, 0, fmt.Errorf("error %d", i))
			}
		}
		clock.Set(start.Add(10 * time.Second))
		rep := r.Report()
		if len(rep.Stats) != 2 {
			t.Fatalf("entries %+v", rep.Stats)
		}
		slow := rep.Stats[1]
		if !maps.Equal(slow.ResponseTimes, counts(60000, 10, 61000, 10, 76000, 10)) {
			t.Errorf("round %d: slow buckets %v", round, slow.ResponseTimes)
		}
		wantSecs := map[int64]int64{}
		for sec := int64(0); sec < 10; sec++ {
			wantSecs[start.Unix()+sec] = 3
		}
		if !maps.Equal(slow.NumReqsPerSec, wantSecs) {
			t.Errorf("round %d: per second %v, want %v", round, slow.NumReqsPerSec, wantSecs)
		}
		if len(rep.Errors) != 3*maxListedErrors {
			t.Errorf("round %d: %d errors, want %d", round, len(rep.Errors), 3*maxListedErrors)
		}
		for i := 0; i < 3*maxListedErrors; i++ {
			text := fmt.Sprintf("error %d", i)
			if e := rep.Errors[wire.ErrorKey("GET", "/err", text)]; e.Occurrences != int64(i%3+1) || e.Error != text {
				t.Errorf("round %d: error %q: %+v", round, text, e)
			}
		}
		checkTotal(t, rep, float64(start.Unix()))
	}
}

func TestShardIndex(t *testing.T) {
	r := New(Options{Shards: 6})
	for i := -20; i <= 20; i++ {
		want := &r.shards[((i%6)+6)%6]
		if got := r.Shard(i); got != want {
			t.Errorf("Shard(%d) is not shard %d", i, ((i%6)+6)%6)
		}
	}
	n := len(New(Options{}).shards)
	if n < 4*runtime.GOMAXPROCS(0) || n&(n-1) != 0 {
		t.Errorf("default shards %d, want a power of two >= 4*GOMAXPROCS (%d)", n, runtime.GOMAXPROCS(0))
	}
	if sz := reflect.TypeOf(Shard{}).Size(); sz%64 != 0 || sz < reflect.TypeOf(shardState{}).Size()+128 {
		t.Errorf("Shard is %d bytes: not padded", sz)
	}
}

// TestRealClock checks the anchored wall clock against time.Now.
func TestRealClock(t *testing.T) {
	r := New(Options{})
	before := time.Now()
	r.Shard(0).Record("GET", "/", time.Millisecond, 0, errTimeout)
	after := time.Now()
	rep := r.Report()
	ts := *rep.Stats[0].LastRequestTimestamp
	lo, hi := float64(before.UnixNano())/1e9, float64(after.UnixNano())/1e9
	if ts < lo-1e-6 || ts > hi+1e-6 {
		t.Errorf("last request timestamp %f outside [%f, %f]", ts, lo, hi)
	}
	if st := rep.StatsTotal.StartTime; st > ts || st < lo-60 {
		t.Errorf("start time %f, request at %f", st, ts)
	}
	e := rep.Errors[wire.ErrorKey("GET", "/", "timeout")]
	if e.FirstSeen != ts || e.LastSeen != ts {
		t.Errorf("error seen %f..%f, request at %f", e.FirstSeen, e.LastSeen, ts)
	}
	if _, ok := rep.Stats[0].NumReqsPerSec[int64(ts)]; !ok {
		t.Errorf("per-second keys %v, request at %f", rep.Stats[0].NumReqsPerSec, ts)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	r := New(Options{Shards: 1})
	s := r.Shard(0)
	wrapped := fmt.Errorf("get /x: %w", errReset)
	record := func() {
		s.Record("GET", "/x", 12*time.Millisecond, 512, nil)
		s.Record("GET", "/y", 1500*time.Millisecond, 512, nil)
		s.Record("POST", "/x", -1, 0, errTimeout)
		s.Record("GET", "/x", 90*time.Second, 0, wrapped)
	}
	// Warm up both generations, and make sure reporting keeps them warm.
	for i := 0; i < 3; i++ {
		record()
		r.Report()
	}
	if n := testing.AllocsPerRun(1000, func() { s.Record("GET", "/x", 12*time.Millisecond, 512, nil) }); n != 0 {
		t.Errorf("Record success: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, func() { s.Record("POST", "/x", -1, 0, errTimeout) }); n != 0 {
		t.Errorf("Record failure: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, record); n != 0 {
		t.Errorf("Record mix: %v allocs", n)
	}
}

// TestConcurrentNoLoss records a known number of requests from many goroutines while
// another goroutine reports all along: the reports add up to exactly what was recorded.
func TestConcurrentNoLoss(t *testing.T) {
	r := New(Options{Shards: 8})
	const goroutines, perG = 32, 5000
	names := []string{"/a", "/b", "/c"}
	var (
		wg       sync.WaitGroup
		reqs     = map[string]int64{}
		fails    int64
		errs     int64
		buckets  int64
		secs     int64
		total    int64
		reports  int
		stop     = make(chan struct{})
		reporter = make(chan struct{})
	)
	add := func(rep wire.StatsReport) {
		reports++
		for _, e := range rep.Stats {
			reqs[e.Name] += e.NumRequests
			fails += e.NumFailures
			for _, n := range e.ResponseTimes {
				buckets += n
			}
			for _, n := range e.NumReqsPerSec {
				secs += n
			}
		}
		total += rep.StatsTotal.NumRequests
		for _, e := range rep.Errors {
			errs += e.Occurrences
		}
	}
	go func() {
		defer close(reporter)
		for {
			select {
			case <-stop:
				return
			default:
				add(r.Report())
			}
		}
	}()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := r.Shard(g)
			for i := 0; i < perG; i++ {
				var err error
				if i%10 == 0 {
					err = errTimeout
				}
				s.Record("GET", names[(g+i)%len(names)], time.Duration(i)*time.Microsecond, 1, err)
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	<-reporter
	add(r.Report()) // everything recorded before this Report is in it or an earlier one
	const n = goroutines * perG
	sum := int64(0)
	for _, v := range reqs {
		sum += v
	}
	if sum != n || total != n || buckets != n || secs != n {
		t.Errorf("reported %d requests (total %d, buckets %d, per second %d), recorded %d", sum, total, buckets, secs, n)
	}
	if fails != n/10 || errs != n/10 {
		t.Errorf("reported %d failures and %d errors, recorded %d", fails, errs, n/10)
	}
	for _, name := range names {
		if reqs[name] < n/int64(len(names))-perG || reqs[name] > n/int64(len(names))+perG {
			t.Errorf("%s: %d requests", name, reqs[name])
		}
	}
	t.Logf("%d reports", reports)
}
