package zookeeper

import (
	"context"
	"math/rand/v2"
	"time"
)

// setTaskSet is zk-locust's ZKSetTaskSet.
func setTaskSet() *TaskSet {
	return define(TaskSet{Class: "Set", BaseName: "set", Sized: true, Suite: 8,
		Description: "set: one random shared key per user, rewritten with the same value"},
		setupSet,
		task("set", 1, (*setState).set))
}

// setState is a Set user's key and value.
type setState struct {
	u   *user
	key string
	val []byte
}

func setupSet(ctx context.Context, u *user, r *rand.Rand) (*setState, error) {
	if err := u.connect(ctx, 0); err != nil {
		return nil, err
	}
	st := &setState{u: u, key: u.randomKey(r), val: randomValue(r, u.s.ValSize)}
	return st, u.ensureKey(st.key, st.val)
}

func (st *setState) set(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	_, err := st.u.conn.Set(st.key, st.val, -1)
	return since(t0), 0, err
}
