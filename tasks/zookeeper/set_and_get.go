package zookeeper

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// setAndGetTaskSet is zk-locust's ZKSetAndGetTaskSet.
func setAndGetTaskSet() *TaskSet {
	return define(TaskSet{Class: "SetAndGet", BaseName: "set_and_get", Sized: true, Suite: 7,
		Description: "set_and_get: incr_set on one random key, get on another, 1:10"},
		setupSetAndGet,
		task("incr_set", 1, (*setAndGetState).incrSet),
		task("get", 10, (*setAndGetState).get))
}

// setAndGetState is a SetAndGet user's counter key, its counter, and the key it reads
// (chosen independently, as zk-locust).
type setAndGetState struct {
	u       *user
	key     string
	size    int
	counter atomic.Int64
	pool    sync.Pool // *[]byte values of size bytes, reused once a set is done
	read    *getState
}

func setupSetAndGet(ctx context.Context, u *user, r *rand.Rand) (*setAndGetState, error) {
	if err := u.connect(ctx, 0); err != nil {
		return nil, err
	}
	n := u.s.ValSize
	st := &setAndGetState{u: u, key: u.randomKey(r), size: n}
	st.pool.New = func() any { b := make([]byte, 0, n+20); return &b }
	if err := u.ensureKey(st.key, []byte(strings.Repeat("0", n))); err != nil {
		return nil, err
	}
	read, err := newGetState(u, r)
	st.read = read
	return st, err
}

// incrSet sets the counter key to the next count, zero-padded to the value size.
func (st *setAndGetState) incrSet(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	c := st.counter.Add(1)
	bp := st.pool.Get().(*[]byte)
	v := zeroPadded((*bp)[:0], c, st.size)
	_, err := st.u.conn.Set(st.key, v, -1)
	el := since(t0)
	if err == nil {
		*bp = v
		st.pool.Put(bp) // reuse only once go-zookeeper is surely done with it
	}
	return el, 0, err
}

func (st *setAndGetState) get(ctx context.Context, t0 time.Time) (time.Duration, int64, error) {
	return st.read.get(ctx, t0)
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
