package stats

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/zkload/zkload/record"
)

// Options configures a Collector.
type Options struct {
	// Interval is the time between two snapshots (zk-locust's --stats-collect). Required.
	Interval time.Duration
	// CSVPath, if set, is the time-series CSV file (--stats-csv); it is truncated.
	CSVPath string
	// DistribPath, if set, is the distribution file (--stats-distrib); it is truncated.
	DistribPath string
	// InMemory allows a collector without files: its statistics are then read only
	// through Cumulative (zkload's Prometheus endpoint without --stats-collect).
	InMemory bool
	// ClientID is written in every row's client_id (the worker's node id).
	ClientID string
	// Users, if set, returns the worker's running user count for the user_count column.
	Users func() int
	// Shards is how many shards users are spread over; <= 0 means GOMAXPROCS, at most 16.
	Shards int
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
	// Logger reports write errors (default slog.Default()).
	Logger *slog.Logger
	// OnWindow, if set, sees every window as it ends, empty ones included (a load
	// controller must see a frozen server's silence), on the snapshot goroutine: it
	// must not block. The summaries are the collector's own, reused once it returns:
	// clone what it keeps.
	OnWindow func(Window)
}

// Window is one ended window of the extended statistics, as Options.OnWindow sees it.
type Window struct {
	Start, End time.Time
	// Users is the running user count at the end (Options.Users; 0 without it).
	Users int
	// Entries are the window's summaries by key, the Total and values included; a key
	// without requests in the window may be present with an empty summary.
	Entries map[Key]*Summary
}

// Collector is a record.Sink that keeps windowed microsecond histograms per (method,
// name) and writes them out every interval. Recording takes only the lock of the
// recording user's shard, or none as a record.LockedSink. Start runs the snapshot loop; Close writes the last interval.
type Collector struct {
	opts   Options
	shards []shard

	// mu serialises snapshots (the loop, Collect and Close); it is never taken by Record.
	mu      sync.Mutex
	csv     *os.File
	distrib *os.File
	start   time.Time // the first window's start
	winFrom time.Time // the current window's start
	win     map[Key]*Summary
	cum     map[Key]*Summary
	err     error // the first write error
	closed  bool
	buf     bytes.Buffer

	stop context.CancelFunc
	done chan struct{}

	// lockedMu guards locked, the shards of record.LockedSink callers by their lock.
	// Collect takes it (under mu) and then each shard's lock; LockedShard takes only it.
	lockedMu sync.Mutex
	locked   map[sync.Locker]*lockedShard
}

// shard is the state of the users mapped to one shard: two generations of entries, so
// that a snapshot holds the lock only to swap them.
type shard struct {
	mu sync.Mutex
	gens
	_ [64]byte // keep shards on separate cache lines
}

// gens are a shard's two generations: Record writes into cur; a snapshot swaps them
// under the shard's lock and then reads the old one without it.
type gens struct{ cur, spare *gen }

// swap swaps the generations under l and returns the one that was written into.
func (g *gens) swap(l sync.Locker) *gen {
	l.Lock()
	g.cur, g.spare = g.spare, g.cur
	old := g.spare
	l.Unlock()
	return old
}

type gen struct {
	entries    map[Key]*Summary
	lastMethod string // the last entry recorded, to skip the map lookup
	lastName   string
	last       *Summary
}

func newGen() *gen { return &gen{entries: make(map[Key]*Summary)} }

// Record records one request into the shard's current window. It allocates only the
// first time the shard sees a (method, name) and for a failure's new error text.
func (s *shard) Record(method, name string, elapsed time.Duration, contentLength int64, err error) {
	s.mu.Lock()
	s.cur.record(method, name, elapsed, contentLength, err)
	s.mu.Unlock()
}

// lockedShard is a shard whose lock belongs to the caller (record.LockedSink): Record
// runs under it, Collect takes it to swap the generations.
type lockedShard struct {
	mu sync.Locker
	gens
}

// Record records one request into the shard's current window; the caller holds s.mu.
func (s *lockedShard) Record(method, name string, elapsed time.Duration, contentLength int64, err error) {
	s.cur.record(method, name, elapsed, contentLength, err)
}

func (g *gen) record(method, name string, elapsed time.Duration, contentLength int64, err error) {
	e := g.last
	if e == nil || g.lastMethod != method || g.lastName != name {
		e = summaryFor(g.entries, Key{method, name})
		g.last, g.lastMethod, g.lastName = e, method, name
	}
	e.record(elapsed, contentLength, err)
}

// New checks the options and creates the output files, writing the CSV header.
func New(opts Options) (*Collector, error) {
	if opts.Interval <= 0 {
		return nil, errors.New("stats: interval must be positive")
	}
	if opts.CSVPath == "" && opts.DistribPath == "" && !opts.InMemory {
		return nil, errors.New("stats: no output file")
	}
	if opts.Shards <= 0 {
		opts.Shards = min(runtime.GOMAXPROCS(0), 16)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Collector{
		opts:   opts,
		shards: make([]shard, opts.Shards),
		win:    make(map[Key]*Summary),
		cum:    make(map[Key]*Summary),
	}
	for i := range c.shards {
		c.shards[i].cur, c.shards[i].spare = newGen(), newGen()
	}
	open := func(path string) (*os.File, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, fmt.Errorf("stats: %w", err)
		}
		return f, nil
	}
	var err error
	if opts.CSVPath != "" {
		if c.csv, err = open(opts.CSVPath); err != nil {
			return nil, err
		}
		if _, err = c.csv.Write(csvHeader()); err != nil {
			c.csv.Close()
			return nil, fmt.Errorf("stats: %w", err)
		}
	}
	if opts.DistribPath != "" {
		if c.distrib, err = open(opts.DistribPath); err != nil {
			if c.csv != nil {
				c.csv.Close()
			}
			return nil, err
		}
	}
	c.start = opts.Now()
	c.winFrom = c.start
	return c, nil
}

// Shard returns the Recorder user i records into: shard i mod the shard count.
func (c *Collector) Shard(i int) record.Recorder {
	n := len(c.shards)
	i %= n
	if i < 0 {
		i += n
	}
	return &c.shards[i]
}

// LockedShard returns the Recorder for users that record while holding mu (see
// record.LockedSink): recording into it takes no lock of the collector's.
func (c *Collector) LockedShard(mu sync.Locker) record.Recorder {
	c.lockedMu.Lock()
	defer c.lockedMu.Unlock()
	if s := c.locked[mu]; s != nil {
		return s
	}
	if c.locked == nil {
		c.locked = make(map[sync.Locker]*lockedShard)
	}
	s := &lockedShard{mu: mu, gens: gens{newGen(), newGen()}}
	c.locked[mu] = s
	return s
}

// Start runs the snapshot loop in a goroutine until ctx is done or Close is called.
// The first window starts when New returned. Call Start at most once.
func (c *Collector) Start(ctx context.Context) {
	ctx, c.stop = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := c.Collect(); err != nil {
					c.opts.Logger.Warn("extended stats: write failed", "err", err)
				}
			}
		}
	}()
}

// Close stops the loop, writes the last (partial) interval and closes the files. It
// returns the first write error, if any. Requests recorded after Close are dropped.
func (c *Collector) Close() error {
	if c.stop != nil {
		c.stop()
		<-c.done
	}
	err := c.Collect()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.err
	}
	c.closed = true
	for _, f := range []*os.File{c.csv, c.distrib} {
		if f != nil {
			if cerr := f.Close(); cerr != nil && c.err == nil {
				c.err = fmt.Errorf("stats: %w", cerr)
			}
		}
	}
	if c.err != nil {
		return c.err
	}
	return err
}

// Collect ends the current window now: it takes every shard's window and appends the
// window's rows and distributions to the files, each file in one write. The loop calls
// it every interval; tests may call it directly. A window without requests or values
// writes nothing (as zk-locust skips collections when the request count has not
// changed). Values (record.IsValue) get rows of their own and stay out of the Total.
func (c *Collector) Collect() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.err
	}
	now := c.opts.Now()
	from := c.winFrom
	c.winFrom = now

	total := summaryFor(c.win, TotalKey)
	for i := range c.shards {
		s := &c.shards[i]
		c.take(s.swap(&s.mu))
	}
	c.lockedMu.Lock()
	for _, s := range c.locked {
		c.take(s.swap(s.mu))
	}
	c.lockedMu.Unlock()
	values := false
	for k, w := range c.win {
		switch {
		case k.IsValue(): // not a request: never in the Total
			values = values || w.Requests > 0
		case !k.IsTotal():
			total.Add(w) // Add skips empty windows
		}
	}
	users := 0
	if c.opts.Users != nil {
		users = c.opts.Users()
	}
	if c.opts.OnWindow != nil {
		c.opts.OnWindow(Window{Start: from, End: now, Users: users, Entries: c.win})
	}
	if total.Requests == 0 && !values {
		return c.err
	}
	keys := make([]Key, 0, len(c.win))
	for k, w := range c.win {
		if w.Requests > 0 && !k.IsTotal() {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Method, b.Method))
	})
	keys = append(keys, TotalKey)
	for _, k := range keys {
		summaryFor(c.cum, k).Add(c.win[k])
	}
	iv := interval{from: from, to: now, start: c.start, clientID: c.opts.ClientID, users: users}
	if c.csv != nil {
		c.buf.Reset()
		writeRows(&c.buf, iv, keys, c.win, c.cum)
		c.write(c.csv, c.buf.Bytes())
	}
	if c.distrib != nil {
		c.buf.Reset()
		for _, k := range keys {
			if err := writeDistribution(&c.buf, iv, k, c.win[k]); err != nil {
				c.fail(err)
			}
		}
		c.write(c.distrib, c.buf.Bytes())
	}
	for _, k := range keys {
		c.win[k].Reset()
	}
	return c.err
}

// take adds a swapped-out generation to the window and empties it; c.mu is held.
func (c *Collector) take(g *gen) {
	for k, e := range g.entries {
		if e.Requests == 0 {
			continue
		}
		summaryFor(c.win, k).Add(e)
		e.Reset()
	}
}

// Cumulative calls fn with every entry's statistics since the collector started, as of
// the last interval that ended (Collect): the Total (TotalKey) and each (method, name),
// values (Key.IsValue) included, in no particular order. s belongs to the collector:
// fn must not modify or keep it. Readers such as a Prometheus scrape use it so that
// nothing is added to the recording path: fn runs under the lock that the snapshot
// loop holds once an interval, which Record never takes, so a slow fn delays the next
// interval's files, never a user.
func (c *Collector) Cumulative(fn func(k Key, s *Summary)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, s := range c.cum {
		fn(k, s)
	}
}

// write appends b to f in one write, so that a killed process leaves at most its last
// write incomplete.
func (c *Collector) write(f *os.File, b []byte) {
	if _, err := f.Write(b); err != nil {
		c.fail(err)
	}
}

func (c *Collector) fail(err error) {
	if c.err == nil {
		c.err = fmt.Errorf("stats: %w", err)
	}
}

// interval is what every row of one snapshot shares.
type interval struct {
	from, to time.Time // the window
	start    time.Time // the first window's start
	clientID string
	users    int
}
