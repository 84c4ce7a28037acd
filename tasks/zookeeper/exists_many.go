package zookeeper

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// existsManyTaskSet is zk-locust's ZKExistsManyTaskSet.
func existsManyTaskSet() *TaskSet {
	return define(TaskSet{Class: "ExistsMany", BaseName: "exists_many", Suite: 2,
		Description: "exists_many: exists with watch on a new nonexistent path every time"},
		setupExistsMany,
		task("exists_negative_watch_many", 1, (*existsManyState).existsWatch))
}

// existsManyState is an ExistsMany user's path tag, unique to its session, and how
// many paths it has asked about.
type existsManyState struct {
	u   *user
	mu  sync.RWMutex
	tag string
	n   atomic.Int64
}

func setupExistsMany(ctx context.Context, u *user, _ *rand.Rand) (*existsManyState, error) {
	st := &existsManyState{u: u}
	u.newSession = st.newSession
	if err := u.connect(ctx, 0); err != nil {
		return nil, err
	}
	return st, nil
}

// newSession tags the paths with the new session's id.
func (st *existsManyState) newSession(sid int64) {
	st.mu.Lock()
	st.tag = fmt.Sprintf("%x", sid)
	st.mu.Unlock()
}

func (st *existsManyState) existsWatch(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	// A new nonexistent path each time, unique to this session (zk-locust's paths were
	// shared by all sessions): the server's watch count grows by one per call.
	st.mu.RLock()
	tag := st.tag
	st.mu.RUnlock()
	p := st.u.root + "/doesnotexist-" + tag + "-" + strconv.FormatInt(st.n.Add(1), 10)
	_, _, _, err := st.u.conn.ExistsW(p)
	return since(t0), 0, err
}
