package zookeeper

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// watchTaskSet is zk-locust's ZKWatchTaskSet: the time from a set of the user's own node
// to the watch notification of that change.
func watchTaskSet() *TaskSet {
	return define(TaskSet{Class: "Watch", BaseName: "watch", Suite: 9,
		Description: "watch: set the user's own node, time until the watch notification (µs)"},
		setupWatch,
		task("watch", 1, (*watchState).watch))
}

// watchState is a Watch user's value, its free own nodes (one per request in flight),
// and when each own node's last change notification arrived.
type watchState struct {
	u       *user
	val     []byte
	timeout time.Duration
	nodes   chan int // indexes of the own nodes no measurement holds
	// notified[i] is when own node i's last data-change notification arrived, in ns
	// since base, on the monotonic clock.
	base     time.Time
	notified []atomic.Int64
}

func setupWatch(ctx context.Context, u *user, r *rand.Rand) (*watchState, error) {
	n := u.s.Outstanding
	st := &watchState{u: u, base: time.Now(), notified: make([]atomic.Int64, n), timeout: u.s.SessionTimeout}
	u.ownChanged = st.changed
	if err := u.connect(ctx, n); err != nil {
		return nil, err
	}
	st.nodes = make(chan int, n)
	for i := 0; i < n; i++ {
		st.nodes <- i
	}
	st.val = randomValue(r, u.s.ValSize)
	return st, nil
}

// changed timestamps a data-change notification of own node i as go-zookeeper's receive
// loop delivers it, before any goroutine is woken.
func (st *watchState) changed(i int) {
	st.notified[i].Store(int64(time.Since(st.base)))
}

func (st *watchState) watch(ctx context.Context, t0 time.Time) (time.Duration, int64, error) {
	u := st.u
	// Each measurement owns one of the user's nodes for its whole cycle, so no other
	// set of this user can overtake it; the version check catches anyone else's.
	var i int
	select {
	case i = <-st.nodes:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	defer func() { st.nodes <- i }()
	path := u.ownPath(i)
	if path == "" {
		return since(t0), 0, fmt.Errorf("zk: no own node (session being re-established)")
	}
	_, stat, ch, err := u.conn.GetW(path)
	if err != nil {
		return since(t0), 0, err
	}
	if u.pacer == nil {
		t0 = time.Now() // closed loop: from the set's send
	}
	stat2, err := u.conn.Set(path, st.val, -1)
	if err != nil {
		return since(t0), 0, err
	}
	tm := time.NewTimer(st.timeout)
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
		return since(t0), 0, fmt.Errorf("zk: no watch notification within %s", st.timeout)
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	if stat2.Version != stat.Version+1 {
		return since(t0), 0, fmt.Errorf("zk: %s changed by another client (version %d, want %d)", path, stat2.Version, stat.Version+1)
	}
	at := st.base.Add(time.Duration(st.notified[i].Load()))
	return at.Sub(t0), 0, nil
}
