package zookeeper

import (
	"context"
	"math/rand/v2"
	"time"
)

// connectTaskSet is zk-locust's ZKConnectTaskSet: session churn. The suites run it only
// when named (zk-locust's Makefile left it out: "connect doesn't play well with greenlet
// exists").
func connectTaskSet() *TaskSet {
	return define(TaskSet{Class: "Connect", BaseName: "connect",
		Description: "connect: open a session (timed), close it (untimed)"},
		setupConnect,
		task("connect", 1, (*connectState).connect))
}

// connectState is a Connect user's wait for a session; it keeps no session of its own.
type connectState struct {
	u       *user
	timeout time.Duration
}

func setupConnect(_ context.Context, u *user, _ *rand.Rand) (*connectState, error) {
	// --bench-connect-timeout-ms, as zk-locust's ZK_LOCUST_BENCH_CONNECT_TIMEOUT_MS.
	timeout, err := u.s.Bench.Millis("connect_timeout_ms", u.s.SessionTimeout)
	if err != nil {
		return nil, err
	}
	return &connectState{u: u, timeout: timeout}, nil
}

func (st *connectState) connect(ctx context.Context, t0 time.Time) (time.Duration, int64, error) {
	conn, err := dial(ctx, st.u.s, st.timeout, st.u.log, nil)
	el := since(t0)
	if err != nil {
		return el, 0, err
	}
	conn.Close()
	return el, 0, nil
}
