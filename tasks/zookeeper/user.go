package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/record"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks/openloop"
)

// errSkip marks an operation that had nothing to do (delete with an empty queue): no
// request is recorded.
var errSkip = errors.New("skip")

// recordedAs is what a task's operation returns to record its request under another
// request type than the task's own: a passive task set's one task waits for whatever
// happens next to its session (Standby: a connect, a reconnect or an expiry). err is
// the request's own error; nil records a success.
type recordedAs struct {
	method string
	err    error
}

// recordAs records the request as method, failed with err (nil: a success).
func recordAs(method string, err error) error { return &recordedAs{method: method, err: err} }

func (r *recordedAs) Error() string {
	if r.err == nil {
		return r.method + ": success"
	}
	return r.method + ": " + r.err.Error()
}

func (r *recordedAs) Unwrap() error { return r.err }

// ConnectMethod is the request type under which a user records that it never got a
// session before the run ended; the name is the task set's.
const ConnectMethod = "connect"

// user is one zkload user: one ZooKeeper session (none for Connect), what every task
// set needs of it, and its task set's own state.
type user struct {
	s      *Settings
	log    *slog.Logger
	name   string // task set name, as shown in the stats
	conn   *zk.Conn
	root   string
	acl    []zk.ACL
	state  any // the task set's per-user state, from its setup; its tasks run on it
	pacer  *openloop.Pacer
	closed atomic.Bool
	// passive: the task set sends no requests (TaskSet.Passive): no think time.
	passive bool

	// Pipelining: sem holds a token per request in flight; jobs feeds the user's
	// Outstanding pipeline goroutines (persistent: a goroutine per request costs more
	// than the request's own client work); wg waits for them.
	sem      chan struct{}
	jobs     chan job
	wg       sync.WaitGroup
	asyncErr atomic.Pointer[error]

	// Session-scoped state, rebuilt when the session changes (expiry): the session and
	// the user's own ephemeral nodes (d-*), which watch, exists and the children task
	// sets keep.
	mu     sync.RWMutex
	sid    int64
	own    []string
	byPath sync.Map // own path -> index into own

	// Hooks for the task set's state, set by its setup before connect (nil: none).
	// newSession runs whenever a session is set up, with mu held, before the own nodes
	// are created: state bound to the old session must go. ownChanged runs in
	// go-zookeeper's receive loop when own node i's data changed, before any goroutine is
	// woken; it must not block.
	newSession func(sid int64)
	ownChanged func(i int)
	// closeState, if set, runs when the user closes: it ends what the task set's state
	// holds beyond conn (Standby's own session).
	closeState func()

	// For failover analysis (record.SuccessGapPrefix, record.SessionLost): bu records
	// the values; lastSuccess holds, per task (index into the task set's Tasks), the
	// end of its last success in Unix nanoseconds (the user's start before any);
	// gapMethods are the tasks' gap series; sessionStart is when the session began.
	bu           *boomer.User
	lastSuccess  []atomic.Int64
	gapMethods   []string
	sessionStart atomic.Int64
}

func (ts *TaskSet) class(w Workload, l setting.Layers, sh *shared) *boomer.UserClass {
	c := &boomer.UserClass{Name: ts.Class, Weight: 1, Description: ts.Description}
	gapMethods := make([]string, len(ts.Tasks))
	for i := range ts.Tasks {
		gapMethods[i] = record.SuccessGapPrefix + ts.Tasks[i].Method
	}
	for i := range ts.Tasks {
		td := &ts.Tasks[i]
		c.Tasks = append(c.Tasks, boomer.Task{Name: td.Method, Weight: td.Weight,
			Fn: func(ctx context.Context, bu *boomer.User) error {
				u, ok := bu.Data.(*user)
				if !ok {
					return nil
				}
				return u.task(ctx, bu, td, i)
			}})
	}
	c.OnStart = func(ctx context.Context, bu *boomer.User) error {
		var master map[string]any
		if env := bu.Env(); env != nil {
			master = env.ParsedOptions
		}
		l := l
		l.Master = master
		s, err := Resolve(l, bu.Host)
		if err != nil {
			return err
		}
		u := &user{s: s, log: w.Logger, name: ts.Name(s), root: s.Root(), acl: ACL(s), passive: ts.Passive, bu: bu}
		if !ts.Passive {
			u.gapMethods = gapMethods
			u.lastSuccess = make([]atomic.Int64, len(ts.Tasks))
			now := time.Now().UnixNano()
			for i := range u.lastSuccess {
				u.lastSuccess[i].Store(now)
			}
		}
		st, err := ts.setup(ctx, u, bu.Rand)
		if err != nil {
			u.close()
			// An error after the run ended is not reported (the user was stopped), but a
			// user that never got a session must show however short the run: a connect
			// failure, so that the table says why and the run fails.
			var ce *ConnectError
			if errors.As(err, &ce) && ce.CutShort() {
				bu.Record(ConnectMethod, u.name, ce.Waited, 0, ce)
			}
			return err
		}
		u.state = st
		if s.Outstanding > 1 && !ts.Passive {
			u.startPipeline(ctx, bu, s.Outstanding)
		}
		if (s.Rate > 0 || sh.pacers.Steered()) && !ts.Passive {
			u.pacer = sh.pacers.For(s.Rate)
			u.pacer.Join()
		}
		bu.Data = u
		return nil
	}
	c.OnStop = func(ctx context.Context, bu *boomer.User) {
		u, ok := bu.Data.(*user)
		if !ok {
			return
		}
		if u.pacer != nil {
			u.pacer.Leave()
		}
		if u.jobs != nil {
			close(u.jobs) // the task loop has ended: nothing sends any more
		}
		done := make(chan struct{})
		go func() { u.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
		u.close()
	}
	return c
}

// close ends the user's session; requests still in flight then fail unrecorded.
func (u *user) close() {
	u.closed.Store(true)
	if u.conn != nil {
		u.conn.Close()
	}
	if u.closeState != nil {
		u.closeState()
	}
}

// task runs one pick of the task set: in the open loop it first takes the next planned
// start; with pipelining it starts the operation and returns once fewer than
// Outstanding requests are in flight.
func (u *user) task(ctx context.Context, bu *boomer.User, td *TaskDef, i int) error {
	if p := u.asyncErr.Swap(nil); p != nil {
		return *p
	}
	if u.sem != nil {
		select {
		case u.sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
	}
	var t0 time.Time
	if u.pacer != nil {
		at, late, err := u.pacer.Next(ctx)
		if err != nil {
			if u.sem != nil {
				<-u.sem
			}
			return nil
		}
		if late > 0 {
			// Schedule lag is not a request: extended statistics only.
			bu.RecordValue(openloop.ScheduleLag, u.name, late)
		}
		t0 = at
	}
	if u.sem == nil {
		if t0.IsZero() {
			t0 = time.Now()
		}
		err := u.exec(ctx, bu, td, i, t0)
		u.think(ctx, bu)
		return err
	}
	select {
	case u.jobs <- job{td: td, i: i, t0: t0}: // a pipeline goroutine is free: sem said so
	case <-ctx.Done():
		<-u.sem
		return nil
	}
	u.think(ctx, bu)
	return nil
}

// job is one pipelined request: its task, the task's index and its planned start
// (zero: now).
type job struct {
	td *TaskDef
	i  int
	t0 time.Time
}

// startPipeline starts n goroutines that run the user's pipelined requests until jobs
// is closed (OnStop).
func (u *user) startPipeline(ctx context.Context, bu *boomer.User, n int) {
	u.sem = make(chan struct{}, n)
	u.jobs = make(chan job)
	for i := 0; i < n; i++ {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			for j := range u.jobs {
				u.pipelined(ctx, bu, j)
			}
		}()
	}
}

// pipelined runs one pipelined request, then frees its slot.
func (u *user) pipelined(ctx context.Context, bu *boomer.User, j job) {
	defer func() { <-u.sem }()
	defer func() {
		// A panic in a pipelined request must not take the worker down.
		if r := recover(); r != nil {
			err := fmt.Errorf("panic in %s: %v\n%s", j.td.Method, r, debug.Stack())
			bu.Record(j.td.Method, u.name, 0, 0, fmt.Errorf("panic: %v", r))
			u.asyncErr.Store(&err)
		}
	}()
	if j.t0.IsZero() {
		j.t0 = time.Now()
	}
	if err := u.exec(ctx, bu, j.td, j.i, j.t0); err != nil {
		u.asyncErr.Store(&err)
	}
}

// think waits the closed loop's think time, uniform in [MinWait, MaxWait].
func (u *user) think(ctx context.Context, bu *boomer.User) {
	if u.pacer != nil || u.passive || u.s.MaxWait <= 0 {
		return
	}
	d := u.s.MinWait
	if span := u.s.MaxWait - u.s.MinWait; span > 0 {
		d += time.Duration(bu.Rand.Int64N(int64(span) + 1))
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// exec runs one task's operation and records it as the exception behaviour says.
func (u *user) exec(ctx context.Context, bu *boomer.User, td *TaskDef, i int, t0 time.Time) error {
	if u.conn != nil {
		if u.s.IgnoreConnectionDown && u.conn.State() != zk.StateHasSession {
			return nil
		}
		if err := u.checkSession(ctx); err != nil {
			return u.fail(ctx, bu, td.Method, time.Since(t0), err)
		}
	}
	elapsed, n, err := td.run(u.state, ctx, t0)
	method := td.Method
	if as, ok := err.(*recordedAs); ok {
		method, err = as.method, as.err
	}
	if err == nil {
		bu.Record(method, u.name, elapsed, n, nil)
		u.succeeded(bu, i, t0.Add(elapsed))
		return nil
	}
	if errors.Is(err, errSkip) {
		return nil
	}
	return u.fail(ctx, bu, method, elapsed, err)
}

func (u *user) fail(ctx context.Context, bu *boomer.User, method string, elapsed time.Duration, err error) error {
	if u.closed.Load() || ctx.Err() != nil {
		return nil // stopping: not a result of the test
	}
	switch u.s.Exceptions {
	case TrySuppress:
		if errors.Is(err, zk.ErrSessionExpired) {
			bu.Record(method, u.name, elapsed, 0, err)
		}
		return nil
	case Propagate:
		return fmt.Errorf("%s %s: %w", method, u.name, err)
	}
	bu.Record(method, u.name, elapsed, 0, err)
	return nil
}

// succeeded notes a success of task i that ended at end, and records the time since
// the task's previous success when it is long enough to say something
// (record.SuccessGapMin). Pipelined successes may end out of order: a shorter time is
// no gap.
func (u *user) succeeded(bu *boomer.User, i int, end time.Time) {
	if u.lastSuccess == nil {
		return
	}
	now := end.UnixNano()
	prev := u.lastSuccess[i].Swap(now)
	if gap := time.Duration(now - prev); gap > record.SuccessGapMin {
		bu.RecordValue(u.gapMethods[i], u.name, gap)
	}
}

// checkSession rebuilds the session-scoped state (ephemeral nodes) after the session
// changed, i.e. after the old one expired and go-zookeeper opened a new one.
func (u *user) checkSession(ctx context.Context) error {
	sid := u.conn.SessionID()
	u.mu.RLock()
	same := sid == 0 || sid == u.sid
	u.mu.RUnlock()
	if same {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sid == sid {
		return nil
	}
	return u.sessionSetupLocked(ctx)
}

// sessionSetupLocked creates the user's ephemeral nodes for the current session.
func (u *user) sessionSetupLocked(ctx context.Context) error {
	u.sid = u.conn.SessionID()
	u.sessionStart.Store(time.Now().UnixNano())
	if u.newSession != nil {
		u.newSession(u.sid)
	}
	for i := range u.own {
		if u.own[i] != "" {
			u.byPath.Delete(u.own[i])
		}
		p, err := u.conn.Create(u.root+"/d-", nil, zk.FlagEphemeral|zk.FlagSequence, u.acl)
		if err != nil {
			u.own[i] = ""
			u.sid = -1 // try again next time
			return fmt.Errorf("create %s/d-: %w", u.root, err)
		}
		u.own[i] = p
		u.byPath.Store(p, i)
	}
	return ctx.Err()
}

// ownPath returns the user's i-th ephemeral node.
func (u *user) ownPath(i int) string {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return u.own[i]
}

// onEvent passes data-change notifications of the user's own nodes to the task set's
// ownChanged, as go-zookeeper's receive loop delivers them.
func (u *user) onEvent(ev zk.Event) {
	if ev.Type == zk.EventSession && ev.State == zk.StateExpired && !u.closed.Load() && u.bu != nil {
		// A lost session: what was bound to it (ephemeral nodes, watches) is gone.
		age := time.Duration(time.Now().UnixNano() - u.sessionStart.Load())
		u.bu.RecordValue(record.SessionLost, u.name, age)
		return
	}
	if ev.Type != zk.EventNodeDataChanged || u.ownChanged == nil {
		return
	}
	if i, ok := u.byPath.Load(ev.Path); ok {
		u.ownChanged(i.(int))
	}
}

// connect opens the user's session, ensures the pseudo-root and creates n own
// ephemeral nodes.
func (u *user) connect(ctx context.Context, ownNodes int) error {
	u.own = make([]string, ownNodes)
	conn, err := Dial(ctx, u.s, u.log, u.onEvent)
	if err != nil {
		return err
	}
	u.conn = conn
	if err := EnsurePath(conn, u.root, u.acl); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sessionSetupLocked(ctx)
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

// randomKey picks one of the shared keys.
func (u *user) randomKey(r *rand.Rand) string {
	return KeyPath(u.root, u.s.KeySize, r.IntN(u.s.KeySpace))
}

// randomValue returns n random bytes from 32..127, as zk-locust (printable ASCII and DEL).
func randomValue(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(32 + r.IntN(96))
	}
	return b
}
