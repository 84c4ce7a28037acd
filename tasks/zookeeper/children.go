package zookeeper

import (
	"context"
	"math/rand/v2"
	"time"
)

// getChildrenTaskSet is zk-locust's ZKGetChildrenTaskSet.
func getChildrenTaskSet() *TaskSet {
	return define(TaskSet{Class: "GetChildren", BaseName: "get_children", Suite: 5,
		Description: "get_children: list the pseudo-root's children"},
		setupChildren,
		task("get_children", 1, (*childrenState).list))
}

// getChildren2TaskSet is zk-locust's ZKGetChildren2TaskSet: the same request, for
// which Kazoo also returned the stat (as go-zookeeper always does).
func getChildren2TaskSet() *TaskSet {
	return define(TaskSet{Class: "GetChildren2", BaseName: "get_children2", Suite: 4,
		Description: "get_children2: list the pseudo-root's children with its stat"},
		setupChildren,
		task("get_children2", 1, (*childrenState).list))
}

// childrenState is a children user: it keeps one own node, so the list grows with the
// users (as zk-locust).
type childrenState struct{ u *user }

func setupChildren(ctx context.Context, u *user, _ *rand.Rand) (*childrenState, error) {
	if err := u.connect(ctx, 1); err != nil {
		return nil, err
	}
	return &childrenState{u: u}, nil
}

// list lists the pseudo-root's children; the content length is their number.
func (st *childrenState) list(_ context.Context, t0 time.Time) (time.Duration, int64, error) {
	children, _, err := st.u.conn.Children(st.u.root)
	return since(t0), int64(len(children)), err
}
