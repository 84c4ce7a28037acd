package zookeeper

import (
	"context"
	"math/rand/v2"
	"time"
)

// getTaskSet is zk-locust's ZKGetTaskSet.
func getTaskSet() *TaskSet {
	return define(TaskSet{Class: "Get", BaseName: "get", Sized: true, Suite: 6,
		Description: "get: one random shared key per user (created if missing), read"},
		setupGet,
		task("get", 1, (*getState).get))
}

// getState is the key a user reads (Get, and SetAndGet's get).
type getState struct {
	u   *user
	key string
}

func setupGet(ctx context.Context, u *user, r *rand.Rand) (*getState, error) {
	if err := u.connect(ctx, 0); err != nil {
		return nil, err
	}
	return newGetState(u, r)
}

// newGetState picks a random shared key and creates it (with a random value) if it is
// missing.
func newGetState(u *user, r *rand.Rand) (*getState, error) {
	st := &getState{u: u, key: u.randomKey(r)}
	return st, u.ensureKey(st.key, randomValue(r, u.s.ValSize))
}

func (st *getState) get(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	data, _, err := st.u.conn.Get(st.key)
	return since(t0), int64(len(data)), err
}
