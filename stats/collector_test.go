package stats

import (
	"context"
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestCollector(t *testing.T, clk *fakeClock, users int) (*Collector, string, string) {
	t.Helper()
	dir := t.TempDir()
	csvPath, distPath := filepath.Join(dir, "stats.csv"), filepath.Join(dir, "distrib.jsonl")
	opts := Options{Interval: time.Hour, CSVPath: csvPath, DistribPath: distPath, ClientID: "host_abc",
		Users: func() int { return users }, Shards: 4}
	if clk != nil {
		opts.Now = clk.now
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, csvPath, distPath
}

// table is a parsed CSV: header index and rows.
type table struct {
	col  map[string]int
	rows [][]string
}

func readCSV(t *testing.T, path string) table {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	if len(recs) == 0 {
		t.Fatalf("%s is empty", path)
	}
	tb := table{col: map[string]int{}, rows: recs[1:]}
	if !slices.Equal(recs[0], Columns()) {
		t.Fatalf("header %v", recs[0])
	}
	for i, c := range recs[0] {
		tb.col[c] = i
	}
	return tb
}

func (tb table) row(t *testing.T, from int, method, name string) []string {
	t.Helper()
	for _, r := range tb.rows[from:] {
		if r[tb.col["method"]] == method && r[tb.col["name"]] == name {
			return r
		}
	}
	t.Fatalf("no row for %s %s", method, name)
	return nil
}

func (tb table) get(t *testing.T, r []string, col string) float64 {
	t.Helper()
	i, ok := tb.col[col]
	if !ok {
		t.Fatalf("no column %q", col)
	}
	v, err := strconv.ParseFloat(r[i], 64)
	if err != nil {
		t.Fatalf("column %s: %v", col, err)
	}
	return v
}

// nearestRank is the reference percentile: the value at rank ceil-ish p/100*n as HDR
// computes its rank (round half up, at least 1).
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	rank := int(p/100*float64(n) + 0.5)
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// checkPct checks a percentile in ms against the exact sample value: HDR reports the
// top of the value's bucket, at most 0.1% (3 significant digits) above it.
func checkPct(t *testing.T, what string, gotMS float64, want time.Duration) {
	t.Helper()
	wantUS := float64(micros(int64(want)))
	gotUS := gotMS * 1000
	if gotUS < wantUS-0.0005 || gotUS > wantUS*1.001+0.0005 {
		t.Errorf("%s = %.3f ms, want %.3f ms (within HDR's 0.1%%)", what, gotMS, wantUS/1000)
	}
}

func TestKnownLatencies(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c, csvPath, distPath := newTestCollector(t, clk, 7)
	boom := errors.New("NoNodeError()")

	// Window 1: Get takes 1..1000 µs (exact HDR buckets); Set takes 10..29.9 ms (0.1%
	// buckets), 5 of them failed; spread over users and shards.
	var get1, set1 []time.Duration
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Microsecond
		get1 = append(get1, d)
		c.Shard(i).Record("get", "Get", d, 10, nil)
	}
	for i := 0; i < 200; i++ {
		d := 10*time.Millisecond + time.Duration(i)*100*time.Microsecond + 37*time.Microsecond
		set1 = append(set1, d)
		var err error
		if i%40 == 0 {
			err = boom
		}
		c.Shard(i*7).Record("set", "Set", d, 0, err)
	}
	clk.add(2 * time.Second)
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}
	// Window 2: Get only, 500 requests at 2 ms exactly.
	var get2 []time.Duration
	for i := 0; i < 500; i++ {
		get2 = append(get2, 2*time.Millisecond)
		c.Shard(i).Record("get", "Get", 2*time.Millisecond, 20, nil)
	}
	clk.add(time.Second)
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}

	tb := readCSV(t, csvPath)
	if len(tb.rows) != 3+2 {
		t.Fatalf("%d rows, want 3 (Get, Set, Total) + 2 (Get, Total)", len(tb.rows))
	}
	pcts := append(append([]float64(nil), Percentiles...), ExtraPercentiles...)
	check := func(win int, method, name string, samples, cum []time.Duration, failures, cumFailures int, span float64) {
		t.Helper()
		r := tb.row(t, win, method, name)
		if r[tb.col["client_id"]] != "host_abc" || r[tb.col["user_count"]] != "7" {
			t.Errorf("%s: client_id %q user_count %q", name, r[tb.col["client_id"]], r[tb.col["user_count"]])
		}
		if got := tb.get(t, r, "num_requests"); got != float64(len(samples)) {
			t.Errorf("%s window %d: num_requests %v, want %d", name, win, got, len(samples))
		}
		if got := tb.get(t, r, "num_failures"); got != float64(failures) {
			t.Errorf("%s: num_failures %v, want %d", name, got, failures)
		}
		if got := tb.get(t, r, "cum_num_requests"); got != float64(len(cum)) {
			t.Errorf("%s: cum_num_requests %v, want %d", name, got, len(cum))
		}
		if got := tb.get(t, r, "cum_num_failures"); got != float64(cumFailures) {
			t.Errorf("%s: cum_num_failures %v, want %d", name, got, cumFailures)
		}
		if got, want := tb.get(t, r, "rps"), float64(len(samples))/span; math.Abs(got-want) > 0.001 {
			t.Errorf("%s: rps %v, want %v", name, got, want)
		}
		for _, set := range []struct {
			prefix string
			s      []time.Duration
		}{{"", samples}, {"cum_", cum}} {
			s := slices.Clone(set.s)
			slices.Sort(s)
			for _, p := range pcts {
				checkPct(t, name+" "+set.prefix+pctName(p), tb.get(t, r, set.prefix+pctName(p)), nearestRank(s, p))
			}
			checkPct(t, name+" "+set.prefix+"median", tb.get(t, r, set.prefix+"median_response_time"), nearestRank(s, 50))
			var sum time.Duration
			for _, d := range s {
				sum += d
			}
			if got, want := tb.get(t, r, set.prefix+"avg_response_time"), float64(sum)/float64(len(s))/1e6; math.Abs(got-want) > 0.0005 {
				t.Errorf("%s: %savg %v, want %v", name, set.prefix, got, want)
			}
			if got := tb.get(t, r, set.prefix+"min_response_time"); got != float64(micros(int64(s[0])))/1000 {
				t.Errorf("%s: %smin %v, want %v", name, set.prefix, got, s[0])
			}
			if got := tb.get(t, r, set.prefix+"max_response_time"); got != float64(micros(int64(s[len(s)-1])))/1000 {
				t.Errorf("%s: %smax %v, want %v", name, set.prefix, got, s[len(s)-1])
			}
		}
	}
	all1 := append(slices.Clone(get1), set1...)
	check(0, "get", "Get", get1, get1, 0, 0, 2)
	check(0, "set", "Set", set1, set1, 5, 5, 2)
	check(0, "", "Total", all1, all1, 5, 5, 2)
	check(3, "get", "Get", get2, append(slices.Clone(get1), get2...), 0, 0, 1)
	check(3, "", "Total", get2, append(slices.Clone(all1), get2...), 0, 5, 1)

	// Exact values where HDR buckets are 1 µs wide.
	r := tb.row(t, 0, "get", "Get")
	for col, want := range map[string]string{"50%": "0.500", "90%": "0.900", "99.9%": "0.999", "100%": "1.000",
		"avg_content_length": "10.00", "timestamp": "2026-01-02T03:04:07.000000Z", "interval_s": "2.000000"} {
		if got := r[tb.col[col]]; got != want {
			t.Errorf("Get %s = %q, want %q", col, got, want)
		}
	}
	if got := tb.row(t, 0, "set", "Set")[tb.col["errors"]]; got != `{"NoNodeError()":5}` {
		t.Errorf("Set errors %q", got)
	}
	if got := tb.row(t, 3, "", "Total")[tb.col["total_rps"]]; got != strconv.FormatFloat(1700.0/3, 'f', 3, 64) {
		t.Errorf("total_rps %q", got)
	}

	ds, err := ReadDistributions(distPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 5 {
		t.Fatalf("%d distributions, want 5", len(ds))
	}
	m := Merge(ds)
	if got := m[Key{"get", "Get"}].Requests; got != 1500 {
		t.Errorf("merged Get requests %d", got)
	}
	if got := m[TotalKey].Requests; got != 1700 {
		t.Errorf("merged Total requests %d", got)
	}
}

// TestValuesStayOutOfTheTotal: a value series (an open loop's schedule lag) gets rows
// of its own, after its name's operations, with the values as times; the Total counts
// requests only. A window with values and no request (a frozen server) is written.
func TestValuesStayOutOfTheTotal(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c, csvPath, distPath := newTestCollector(t, clk, 2)
	r := c.Shard(0)
	for i := 0; i < 100; i++ {
		r.Record("get", "get", time.Millisecond, 0, nil)
	}
	for _, lag := range []time.Duration{2 * time.Millisecond, 40 * time.Millisecond, 400 * time.Millisecond} {
		r.Record("~schedule_lag", "get", lag, 0, nil)
	}
	clk.add(time.Second)
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}
	r.Record("~schedule_lag", "get", 300*time.Millisecond, 0, nil) // no request completes
	clk.add(time.Second)
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}
	tb := readCSV(t, csvPath)
	var got []string
	for _, row := range tb.rows {
		got = append(got, row[tb.col["method"]]+" "+row[tb.col["name"]]+" "+row[tb.col["num_requests"]])
	}
	want := []string{"get get 100", "~schedule_lag get 3", " Total 100", "~schedule_lag get 1", " Total 0"}
	if !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	lag := tb.row(t, 0, "~schedule_lag", "get")
	if max := tb.get(t, lag, "max_response_time"); max != 400 {
		t.Errorf("schedule lag max %v ms, want 400", max)
	}
	if cum := tb.get(t, tb.rows[4], "cum_num_requests"); cum != 100 {
		t.Errorf("cumulative Total %v requests, want 100", cum)
	}
	ds, err := ReadDistributions(distPath)
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(ds)
	if n := m[TotalKey].Requests; n != 100 {
		t.Errorf("merged Total %d requests, want 100", n)
	}
	if k := (Key{"~schedule_lag", "get"}); !k.IsValue() || m[k].Requests != 4 || m[k].MaxNanos != int64(400*time.Millisecond) {
		t.Errorf("merged schedule lag: %+v", m[k])
	}
}

func TestEmptyWindowWritesNothing(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c, csvPath, distPath := newTestCollector(t, clk, 0)
	clk.add(time.Second)
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}
	if tb := readCSV(t, csvPath); len(tb.rows) != 0 {
		t.Fatalf("rows for an empty window: %v", tb.rows)
	}
	if b, _ := os.ReadFile(distPath); len(b) != 0 {
		t.Fatalf("distribution for an empty window: %q", b)
	}
}

// TestFlushedEveryInterval runs the real loop and reads the files while the collector
// still runs: every interval's rows are complete on disk without Close.
func TestFlushedEveryInterval(t *testing.T) {
	dir := t.TempDir()
	csvPath, distPath := filepath.Join(dir, "s.csv"), filepath.Join(dir, "d.jsonl")
	c, err := New(Options{Interval: 30 * time.Millisecond, CSVPath: csvPath, DistribPath: distPath, ClientID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Start(context.Background())
	sent := 0
	for round := 1; round <= 3; round++ {
		for i := 0; i < 100; i++ {
			c.Shard(i).Record("get", "Get", time.Duration(100+i)*time.Microsecond, 0, nil)
		}
		sent += 100
		deadline := time.Now().Add(5 * time.Second)
		for {
			tb := readCSV(t, csvPath)
			var cum float64
			for _, r := range tb.rows {
				if r[tb.col["name"]] == "Total" {
					cum = tb.get(t, r, "cum_num_requests")
				}
			}
			ds, err := ReadDistributions(distPath)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, d := range ds {
				if !d.IsTotal() {
					n += d.Requests
				}
			}
			if cum == float64(sent) && n == int64(sent) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: files show %v (csv) and %d (distrib) requests, want %d", round, cum, n, sent)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// sample is one request for the merge test.
type sample struct {
	method, name string
	d            time.Duration
	size         int64
	err          error
}

// TestTwoWorkersMergeToOne feeds random requests to workers A and B (each sample to
// one of them, several windows, different window boundaries) and all of them to C: the
// merged distribution files of A and B equal C's, entry by entry, bucket by bucket.
func TestTwoWorkersMergeToOne(t *testing.T) {
	clk := &fakeClock{t: time.Unix(5000, 0)}
	a, _, distA := newTestCollector(t, clk, 1)
	b, _, distB := newTestCollector(t, clk, 1)
	c, _, distC := newTestCollector(t, clk, 2)
	rng := rand.New(rand.NewPCG(1, 2))
	names := []sample{{method: "get", name: "Get"}, {method: "set", name: "Set"}, {method: "exists", name: "Exists"}}
	errs := []error{errors.New("ConnectionLoss()"), errors.New("NoNodeError()")}
	for i := 0; i < 20000; i++ {
		r := names[rng.IntN(len(names))]
		// Log-uniform from 1 µs to ~10 s, with nanosecond detail.
		r.d = time.Duration(math.Exp(rng.Float64() * math.Log(1e10)))
		r.size = rng.Int64N(1000)
		if rng.IntN(50) == 0 {
			r.err = errs[rng.IntN(2)]
		}
		w := a
		if rng.IntN(3) == 0 {
			w = b
		}
		user := rng.IntN(100)
		w.Shard(user).Record(r.method, r.name, r.d, r.size, r.err)
		c.Shard(user).Record(r.method, r.name, r.d, r.size, r.err)
		if i%3000 == 0 {
			clk.add(time.Second)
			a.Collect()
		}
		if i%7000 == 0 {
			b.Collect()
		}
	}
	for _, w := range []*Collector{a, b, c} {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var ab []Distribution
	for _, p := range []string{distA, distB} {
		ds, err := ReadDistributions(p)
		if err != nil {
			t.Fatal(err)
		}
		ab = append(ab, ds...)
	}
	dc, err := ReadDistributions(distC)
	if err != nil {
		t.Fatal(err)
	}
	mab, mc := Merge(ab), Merge(dc)
	if len(mab) != 4 || len(mc) != 4 {
		t.Fatalf("%d and %d entries, want 4 (3 + Total)", len(mab), len(mc))
	}
	for k, want := range mc {
		got := mab[k]
		if got == nil || !got.Equal(want) {
			t.Errorf("%v: merged A+B differs from C", k)
			continue
		}
		if got.Percentile(99.99) != want.Percentile(99.99) || got.Hist.TotalCount() != want.Requests {
			t.Errorf("%v: percentiles differ", k)
		}
	}
	if mc[TotalKey].Requests != 20000 {
		t.Errorf("C total %d, want 20000", mc[TotalKey].Requests)
	}
}

func TestReadDistributionsTruncated(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1, 0)}
	c, _, distPath := newTestCollector(t, clk, 0)
	c.Shard(0).Record("get", "Get", time.Millisecond, 0, nil)
	clk.add(time.Second)
	c.Collect()
	c.Shard(0).Record("get", "Get", time.Millisecond, 0, nil)
	clk.add(time.Second)
	c.Collect()
	b, err := os.ReadFile(distPath)
	if err != nil {
		t.Fatal(err)
	}
	// As if killed in the middle of the last write.
	cut := filepath.Join(t.TempDir(), "cut.jsonl")
	if err := os.WriteFile(cut, b[:len(b)-40], 0o644); err != nil {
		t.Fatal(err)
	}
	ds, err := ReadDistributions(cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 {
		t.Fatalf("%d records from a cut file, want 3", len(ds))
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte("{\"unit\":\"us\"}\n"+string(b)), 0o644)
	if _, err := ReadDistributions(bad); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("malformed first line: err %v", err)
	}
}

// TestConcurrentRecord records from many goroutines while snapshots run: no request is
// lost or counted twice (run with -race).
// TestConcurrentRecord records from 16 goroutines while windows are taken without
// pause, through the collector's shards and through LockedShard under the callers' 4
// locks (as boomer's users record); every request must be in exactly one window.
func TestConcurrentRecord(t *testing.T) {
	t.Run("own locks", func(t *testing.T) { concurrentRecord(t, false) })
	t.Run("callers' locks", func(t *testing.T) { concurrentRecord(t, true) })
}

func concurrentRecord(t *testing.T, callersLocks bool) {
	clk := &fakeClock{t: time.Unix(1, 0)}
	c, csvPath, _ := newTestCollector(t, clk, 0)
	var locks [4]sync.Mutex
	if callersLocks && c.LockedShard(&locks[1]) != c.LockedShard(&locks[1]) {
		t.Fatal("LockedShard gave two recorders for one lock")
	}
	var wg sync.WaitGroup
	const users, per = 16, 2000
	stop := make(chan struct{})
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for {
			select {
			case <-stop:
				return
			default:
				clk.add(time.Millisecond)
				c.Collect()
			}
		}
	}()
	for u := 0; u < users; u++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !callersLocks {
				r := c.Shard(u)
				for i := 0; i < per; i++ {
					r.Record("get", "Get", time.Duration(i)*time.Microsecond, 1, nil)
				}
				return
			}
			mu := &locks[u%len(locks)]
			r := c.LockedShard(mu)
			for i := 0; i < per; i++ {
				mu.Lock()
				r.Record("get", "Get", time.Duration(i)*time.Microsecond, 1, nil)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-collected
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	tb := readCSV(t, csvPath)
	var sum float64
	var last []string
	for _, r := range tb.rows {
		if r[tb.col["name"]] == "Total" {
			sum += tb.get(t, r, "num_requests")
			last = r
		}
	}
	if sum != users*per || tb.get(t, last, "cum_num_requests") != users*per {
		t.Fatalf("windows sum to %v, last cum %v; want %d", sum, last[tb.col["cum_num_requests"]], users*per)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{CSVPath: "x"}); err == nil {
		t.Error("no interval accepted")
	}
	if _, err := New(Options{Interval: time.Second}); err == nil {
		t.Error("no output accepted")
	}
	if _, err := New(Options{Interval: time.Second, CSVPath: filepath.Join(t.TempDir(), "no", "such", "dir")}); err == nil {
		t.Error("unwritable path accepted")
	}
}
