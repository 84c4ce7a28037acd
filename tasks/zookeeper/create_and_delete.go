package zookeeper

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// createAndDeleteTaskSet is zk-locust's ZKCreateAndDeleteTaskSet.
func createAndDeleteTaskSet() *TaskSet {
	return define(TaskSet{Class: "CreateAndDelete", BaseName: "create_and_delete", Sized: true, Suite: 1,
		Description: "create_and_delete: create_ephemeral, delete (oldest first), count_children, 75:125:1"},
		setupCreateAndDelete,
		task("create_ephemeral", 75, (*createAndDeleteState).create),
		task("delete", 125, (*createAndDeleteState).delete),
		task("count_children", 1, (*createAndDeleteState).countChildren))
}

// createAndDeleteState is a CreateAndDelete user's value and the ephemeral nodes it
// created in this session, oldest first.
type createAndDeleteState struct {
	u     *user
	val   []byte
	mu    sync.Mutex
	queue []string
}

func setupCreateAndDelete(ctx context.Context, u *user, r *rand.Rand) (*createAndDeleteState, error) {
	st := &createAndDeleteState{u: u}
	u.newSession = st.newSession
	if err := u.connect(ctx, 0); err != nil {
		return nil, err
	}
	st.val = randomValue(r, u.s.ValSize)
	return st, nil
}

// newSession forgets the nodes of the old session: they went with it.
func (st *createAndDeleteState) newSession(int64) {
	st.mu.Lock()
	st.queue = st.queue[:0]
	st.mu.Unlock()
}

func (st *createAndDeleteState) create(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	p, err := st.u.conn.Create(st.u.root+"/c-", st.val, zk.FlagEphemeral|zk.FlagSequence, st.u.acl)
	el := since(t0)
	if err == nil {
		st.mu.Lock()
		st.queue = append(st.queue, p)
		st.mu.Unlock()
	}
	return el, 0, err
}

// delete deletes the oldest node created; with none, it has nothing to do (errSkip).
func (st *createAndDeleteState) delete(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	st.mu.Lock()
	if len(st.queue) == 0 {
		st.mu.Unlock()
		return 0, 0, errSkip
	}
	p := st.queue[0]
	st.queue = st.queue[1:]
	st.mu.Unlock()
	err := st.u.conn.Delete(p, -1)
	return since(t0), 0, err
}

// countChildren reads the pseudo-root's child count (its stat), as the content length.
func (st *createAndDeleteState) countChildren(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	_, stat, err := st.u.conn.Exists(st.u.root)
	el := since(t0)
	if err != nil {
		return el, 0, err
	}
	return el, int64(stat.NumChildren), nil
}
