package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// TaskSet is one of zk-locust's task sets: a stats name, a weighted mix of request
// types, and the user class that runs it.
type TaskSet struct {
	// Class is the user class's name (CamelCase); BaseName the stats name (snake_case).
	Class, BaseName string
	// Sized task sets carry the value size in their name when it is set (set_512_B).
	Sized       bool
	Description string
	Tasks       []TaskDef
	// setup opens the session (if any) and builds the ops, one per task.
	setup func(ctx context.Context, u *user, r *rand.Rand) error
}

// TaskDef is one weighted request type of a task set.
type TaskDef struct {
	Method string
	Weight int
}

// Name is the task set's name in the stats for these settings.
func (ts *TaskSet) Name(s *Settings) string {
	if ts.Sized && s.SizedNames {
		return ts.BaseName + "_" + SizeSuffix(s.ValSize)
	}
	return ts.BaseName
}

// SizeSuffix renders a value size as zk-locust's sequence did: 8_B, 512_B, and from
// 1024 bytes on, KiB rounded to 3 decimals with Python's float formatting: 8.0_KiB.
func SizeSuffix(n int) string {
	if n < 1024 {
		return strconv.Itoa(n) + "_B"
	}
	k := math.Round(float64(n)/1024*1000) / 1000
	s := strconv.FormatFloat(k, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s + "_KiB"
}

// KeyPath is key i of the shared key space: <root>/c-<i zero-padded to keySize-2
// digits> (zk-locust's layout; longer numbers are not truncated).
func KeyPath(root string, keySize, i int) string {
	d := strconv.Itoa(i)
	if w := keySize - 2; len(d) < w {
		d = strings.Repeat("0", w-len(d)) + d
	}
	return root + "/c-" + d
}

// TaskSets returns zk-locust's ten task sets, in the order zkload lists them.
func TaskSets() []*TaskSet {
	return []*TaskSet{
		{Class: "Set", BaseName: "set", Sized: true,
			Description: "set: one random shared key per user, rewritten with the same value",
			Tasks:       []TaskDef{{"set", 1}}, setup: setupSet},
		{Class: "Get", BaseName: "get", Sized: true,
			Description: "get: one random shared key per user (created if missing), read",
			Tasks:       []TaskDef{{"get", 1}}, setup: setupGet},
		{Class: "SetAndGet", BaseName: "set_and_get", Sized: true,
			Description: "set_and_get: incr_set on one random key, get on another, 1:10",
			Tasks:       []TaskDef{{"incr_set", 1}, {"get", 10}}, setup: setupSetAndGet},
		{Class: "CreateAndDelete", BaseName: "create_and_delete", Sized: true,
			Description: "create_and_delete: create_ephemeral, delete (oldest first), count_children, 75:125:1",
			Tasks:       []TaskDef{{"create_ephemeral", 75}, {"delete", 125}, {"count_children", 1}}, setup: setupCreateAndDelete},
		{Class: "Watch", BaseName: "watch",
			Description: "watch: set the user's own node, time until the watch notification (µs)",
			Tasks:       []TaskDef{{"watch", 1}}, setup: setupWatch},
		{Class: "Exists", BaseName: "exists",
			Description: "exists: positive and negative, with and without watch, 1:1:1:1",
			Tasks: []TaskDef{{"exists_positive", 1}, {"exists_negative", 1},
				{"exists_positive_watch", 1}, {"exists_negative_watch", 1}}, setup: setupExists},
		{Class: "ExistsMany", BaseName: "exists_many",
			Description: "exists_many: exists with watch on a new nonexistent path every time",
			Tasks:       []TaskDef{{"exists_negative_watch_many", 1}}, setup: setupExistsMany},
		{Class: "GetChildren", BaseName: "get_children",
			Description: "get_children: list the pseudo-root's children",
			Tasks:       []TaskDef{{"get_children", 1}}, setup: setupChildren("get_children")},
		{Class: "GetChildren2", BaseName: "get_children2",
			Description: "get_children2: list the pseudo-root's children with its stat",
			Tasks:       []TaskDef{{"get_children2", 1}}, setup: setupChildren("get_children2")},
		{Class: "Connect", BaseName: "connect",
			Description: "connect: open a session (timed), close it (untimed)",
			Tasks:       []TaskDef{{"connect", 1}}, setup: setupConnect},
	}
}

// ensureKey creates a shared key with value if it does not exist; an existing key keeps
// its value (as in zk-locust).
func (u *user) ensureKey(path string, value []byte) error {
	_, err := u.conn.Create(path, value, 0, u.acl)
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

func (u *user) randomKey(r *rand.Rand) string {
	return KeyPath(u.root, u.s.KeySize, r.IntN(u.s.KeySpace))
}

func since(t0 time.Time) time.Duration { return time.Since(t0) }

func (u *user) setOp(r *rand.Rand) (*op, error) {
	key, val := u.randomKey(r), randomValue(r, u.s.ValSize)
	if err := u.ensureKey(key, val); err != nil {
		return nil, err
	}
	return &op{method: "set", run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
		_, err := u.conn.Set(key, val, -1)
		return since(t0), 0, err
	}}, nil
}

func (u *user) getOp(r *rand.Rand) (*op, error) {
	key := u.randomKey(r)
	if err := u.ensureKey(key, randomValue(r, u.s.ValSize)); err != nil {
		return nil, err
	}
	return &op{method: "get", run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
		data, _, err := u.conn.Get(key)
		return since(t0), int64(len(data)), err
	}}, nil
}

func setupSet(ctx context.Context, u *user, r *rand.Rand) error {
	if err := u.connect(ctx, 0); err != nil {
		return err
	}
	o, err := u.setOp(r)
	u.ops = []*op{o}
	return err
}

func setupGet(ctx context.Context, u *user, r *rand.Rand) error {
	if err := u.connect(ctx, 0); err != nil {
		return err
	}
	o, err := u.getOp(r)
	u.ops = []*op{o}
	return err
}

func setupSetAndGet(ctx context.Context, u *user, r *rand.Rand) error {
	if err := u.connect(ctx, 0); err != nil {
		return err
	}
	key := u.randomKey(r)
	n := u.s.ValSize
	if err := u.ensureKey(key, []byte(strings.Repeat("0", n))); err != nil {
		return err
	}
	var counter int64
	var mu sync.Mutex
	pool := sync.Pool{New: func() any { b := make([]byte, 0, n+20); return &b }}
	incr := &op{method: "incr_set", run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
		mu.Lock()
		counter++
		c := counter
		mu.Unlock()
		bp := pool.Get().(*[]byte)
		v := zeroPadded((*bp)[:0], c, n)
		_, err := u.conn.Set(key, v, -1)
		el := since(t0)
		if err == nil {
			*bp = v
			pool.Put(bp) // reuse only once go-zookeeper is surely done with it
		}
		return el, 0, err
	}}
	get, err := u.getOp(r)
	u.ops = []*op{incr, get}
	return err
}

// zeroPadded appends c in decimal, zero-padded to n bytes (longer if it must be).
func zeroPadded(b []byte, c int64, n int) []byte {
	var d [20]byte
	digits := strconv.AppendInt(d[:0], c, 10)
	for i := len(digits); i < n; i++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}

func setupCreateAndDelete(ctx context.Context, u *user, r *rand.Rand) error {
	if err := u.connect(ctx, 0); err != nil {
		return err
	}
	val := randomValue(r, u.s.ValSize)
	create := &op{method: "create_ephemeral", run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
		p, err := u.conn.Create(u.root+"/c-", val, zk.FlagEphemeral|zk.FlagSequence, u.acl)
		el := since(t0)
		if err == nil {
			u.mu.Lock()
			u.queue = append(u.queue, p)
			u.mu.Unlock()
		}
		return el, 0, err
	}}
	del := &op{method: "delete", run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
		u.mu.Lock()
		if len(u.queue) == 0 {
			u.mu.Unlock()
			return 0, 0, errSkip
		}
		p := u.queue[0]
		u.queue = u.queue[1:]
		u.mu.Unlock()
		err := u.conn.Delete(p, -1)
		return since(t0), 0, err
	}}
	count := &op{method: "count_children", run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
		_, st, err := u.conn.Exists(u.root)
		el := since(t0)
		if err != nil {
			return el, 0, err
		}
		return el, int64(st.NumChildren), nil
	}}
	u.ops = []*op{create, del, count}
	return nil
}

func setupWatch(ctx context.Context, u *user, r *rand.Rand) error {
	n := u.s.Outstanding
	if err := u.connect(ctx, n); err != nil {
		return err
	}
	u.nodes = make(chan int, n)
	for i := 0; i < n; i++ {
		u.nodes <- i
	}
	val := randomValue(r, u.s.ValSize)
	timeout := u.s.SessionTimeout
	u.ops = []*op{{method: "watch", run: func(ctx context.Context, t0 time.Time) (time.Duration, int64, error) {
		// Each measurement owns one of the user's nodes for its whole cycle, so no other
		// set of this user can overtake it; the version check catches anyone else's.
		var i int
		select {
		case i = <-u.nodes:
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		defer func() { u.nodes <- i }()
		path := u.ownPath(i)
		if path == "" {
			return since(t0), 0, fmt.Errorf("zk: no own node (session being re-established)")
		}
		_, st, ch, err := u.conn.GetW(path)
		if err != nil {
			return since(t0), 0, err
		}
		if u.pacer == nil {
			t0 = time.Now() // closed loop: from the set's send
		}
		st2, err := u.conn.Set(path, val, -1)
		if err != nil {
			return since(t0), 0, err
		}
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		select {
		case ev := <-ch:
			if ev.Type != zk.EventNodeDataChanged {
				if ev.Err != nil {
					return since(t0), 0, ev.Err
				}
				return since(t0), 0, fmt.Errorf("zk: watch ended by %s", ev.Type)
			}
		case <-tm.C:
			return since(t0), 0, fmt.Errorf("zk: no watch notification within %s", timeout)
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
		if st2.Version != st.Version+1 {
			return since(t0), 0, fmt.Errorf("zk: %s changed by another client (version %d, want %d)", path, st2.Version, st.Version+1)
		}
		at := u.base.Add(time.Duration(u.notified[i].Load()))
		return at.Sub(t0), 0, nil
	}}}
	return nil
}

// pendingWatch remembers a session's watch on one path: while it has not fired, the
// server already holds it, so asking again only adds a channel to go-zookeeper's list
// for that path, which then grows with every call (zk-locust's watcher growth).
type pendingWatch struct {
	mu sync.Mutex
	ch <-chan zk.Event
}

// exists runs exists with a watch if none is pending on path, else a plain exists.
func (w *pendingWatch) exists(conn *zk.Conn, path string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		select {
		case <-w.ch:
			w.ch = nil
		default:
			_, _, err := conn.Exists(path)
			return err
		}
	}
	_, _, ch, err := conn.ExistsW(path)
	if err == nil {
		w.ch = ch
	}
	return err
}

func setupExists(ctx context.Context, u *user, _ *rand.Rand) error {
	if err := u.connect(ctx, 1); err != nil {
		return err
	}
	neg := u.root + "/doesnotexist"
	var pw, nw pendingWatch
	plain := func(method string, path func() string) *op {
		return &op{method: method, run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
			_, _, err := u.conn.Exists(path())
			return since(t0), 0, err
		}}
	}
	watched := func(method string, path func() string, w *pendingWatch) *op {
		return &op{method: method, run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
			err := w.exists(u.conn, path())
			return since(t0), 0, err
		}}
	}
	pos := func() string { return u.ownPath(0) }
	negf := func() string { return neg }
	u.ops = []*op{plain("exists_positive", pos), plain("exists_negative", negf),
		watched("exists_positive_watch", pos, &pw), watched("exists_negative_watch", negf, &nw)}
	return nil
}

func setupExistsMany(ctx context.Context, u *user, _ *rand.Rand) error {
	if err := u.connect(ctx, 0); err != nil {
		return err
	}
	u.ops = []*op{{method: "exists_negative_watch_many", run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
		// A new nonexistent path each time, unique to this session (zk-locust's paths
		// were shared by all sessions): the server's watch count grows by one per call.
		u.mu.RLock()
		tag := u.uniq
		u.mu.RUnlock()
		p := u.root + "/doesnotexist-" + tag + "-" + strconv.FormatInt(u.many.Add(1), 10)
		_, _, _, err := u.conn.ExistsW(p)
		return since(t0), 0, err
	}}}
	return nil
}

func setupChildren(method string) func(ctx context.Context, u *user, _ *rand.Rand) error {
	return func(ctx context.Context, u *user, _ *rand.Rand) error {
		if err := u.connect(ctx, 1); err != nil {
			return err
		}
		u.ops = []*op{{method: method, run: func(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
			children, _, err := u.conn.Children(u.root)
			return since(t0), int64(len(children)), err
		}}}
		return nil
	}
}

func setupConnect(ctx context.Context, u *user, _ *rand.Rand) error {
	timeout, err := u.s.Bench.Millis("connect_timeout_ms", u.s.SessionTimeout)
	if err != nil {
		return err
	}
	u.ops = []*op{{method: "connect", run: func(ctx context.Context, t0 time.Time) (time.Duration, int64, error) {
		conn, err := dial(ctx, u.s, timeout, u.log, nil)
		el := since(t0)
		if err != nil {
			return el, 0, err
		}
		conn.Close()
		return el, 0, nil
	}}}
	return nil
}
