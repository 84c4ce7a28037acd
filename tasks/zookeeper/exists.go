package zookeeper

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// existsTaskSet is zk-locust's ZKExistsTaskSet.
func existsTaskSet() *TaskSet {
	return define(TaskSet{Class: "Exists", BaseName: "exists", Suite: 3,
		Description: "exists: positive and negative, with and without watch, 1:1:1:1"},
		setupExists,
		task("exists_positive", 1, (*existsState).positive),
		task("exists_negative", 1, (*existsState).negative),
		task("exists_positive_watch", 1, (*existsState).positiveWatch),
		task("exists_negative_watch", 1, (*existsState).negativeWatch))
}

// existsState is an Exists user's nonexistent path and its pending watches; the
// existing path is the user's own node.
type existsState struct {
	u      *user
	neg    string
	pw, nw pendingWatch
}

func setupExists(ctx context.Context, u *user, _ *rand.Rand) (*existsState, error) {
	if err := u.connect(ctx, 1); err != nil {
		return nil, err
	}
	return &existsState{u: u, neg: u.root + "/doesnotexist"}, nil
}

func (st *existsState) positive(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	_, _, err := st.u.conn.Exists(st.u.ownPath(0))
	return since(t0), 0, err
}

func (st *existsState) negative(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	_, _, err := st.u.conn.Exists(st.neg)
	return since(t0), 0, err
}

func (st *existsState) positiveWatch(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	err := st.pw.exists(st.u.conn, st.u.ownPath(0))
	return since(t0), 0, err
}

func (st *existsState) negativeWatch(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	err := st.nw.exists(st.u.conn, st.neg)
	return since(t0), 0, err
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
