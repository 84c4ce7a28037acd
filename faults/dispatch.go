package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/zkload/zkload/fourlw"
)

// Members is what a dispatcher acts on: the members of one ensemble, in the order of
// its connect string (IDX 0 is the first), and the ways to take one out of service and
// back. A method that a kind of ensemble cannot do returns an error saying so.
type Members interface {
	// Addrs are the members' client addresses, host:port.
	Addrs() []string
	// Disable takes member i out of service (a crash: kill -9, a deleted pod...).
	Disable(ctx context.Context, i int) error
	// Enable brings a disabled member back (on its data).
	Enable(ctx context.Context, i int) error
	// Pause freezes member i without closing its connections, as a long GC pause does.
	Pause(ctx context.Context, i int) error
	// Resume thaws a paused member.
	Resume(ctx context.Context, i int) error
	// Partition cuts member i off from the other members; clients still reach it.
	Partition(ctx context.Context, i int) error
	// Heal ends member i's partition.
	Heal(ctx context.Context, i int) error
}

// Supporter is implemented by Members that can take only some actions: Supports says
// why action (disable, enable, pause, resume, partition or heal) cannot be taken, or nil.
type Supporter interface {
	Supports(ctx context.Context, action string) error
}

// Check refuses a program whose actions m cannot take, naming the first such line, so
// that a run does not start a load it cannot disrupt as asked.
func (p *Program) Check(ctx context.Context, m Members) error {
	s, ok := m.(Supporter)
	if !ok {
		return nil
	}
	for _, in := range p.Steps {
		var need []Op
		switch b := base(in.Op); b {
		case OpRestart:
			need = []Op{OpDisable, OpEnable}
		case OpDisable, OpEnable, OpPause, OpResume, OpPartition, OpHeal:
			need = []Op{b}
		}
		for _, op := range need {
			if err := s.Supports(ctx, string(op)); err != nil {
				return fmt.Errorf("fault program line %d %q: %w", in.Line, in.Text, err)
			}
		}
	}
	return nil
}

// Role is a member's state as the dispatcher sees it.
type Role string

// The roles: a serving member's mode (srvr), or why it does not serve.
const (
	Leader     Role = "leader"
	Follower   Role = "follower"
	Standalone Role = "standalone"
	Down       Role = "down"        // does not answer as a serving member
	Paused     Role = "paused"      // paused by this dispatcher
	Cut        Role = "partitioned" // partitioned by this dispatcher
)

// Serving reports whether the role serves clients.
func (r Role) Serving() bool { return r == Leader || r == Follower || r == Standalone }

// Action is one row of a faults timeline: what the dispatcher did to which member, and
// what followed.
type Action struct {
	Time   time.Time // when the action started
	Action string    // the instruction (disable, enable, pause, resume, restart) or "skip"
	Member int       // IDX, from 0
	Addr   string
	Before Role // the member's role before
	// LeaderBefore and LeaderAfter are the IDX of the member serving as leader (or
	// standalone) before the action and once one serves after it; -1: none.
	LeaderBefore, LeaderAfter int
	Took                      time.Duration // the action itself (a kill until the process is gone, a start until it serves)
	// Election is, for an action that took the leader out of service, the time from
	// its end until some member served as leader again (polled every PollEvery); -1
	// for other actions, or when no leader came before the run's end or
	// ElectionTimeout. The wait does not hold the program up.
	Election time.Duration
	// FirstWrite is, for an action that took a member out, the time from its end until
	// the Probe's first successful write; -1 without a probe, for other actions, or
	// when none succeeded before the run's end or ElectionTimeout.
	FirstWrite time.Duration
	Note       string // why an action was skipped, or its error
}

// RandomConfig is zk-locust's ZK_DISPATCH_CONFIG for the random dispatcher: the sleeps
// between its actions.
type RandomConfig struct {
	Sleep             time.Duration // before the first action and after a failed one (sleep_ms, 5000)
	SleepAfterDisable time.Duration // sleep_after_disable_ms, 2000
	SleepAfterEnable  time.Duration // sleep_after_enable_ms, 5000
}

// DefaultRandomConfig is zk-locust's.
func DefaultRandomConfig() RandomConfig {
	return RandomConfig{Sleep: 5 * time.Second, SleepAfterDisable: 2 * time.Second, SleepAfterEnable: 5 * time.Second}
}

// Dispatcher runs a fault program (or, without one, the random dispatcher) against an
// ensemble and reports every action.
type Dispatcher struct {
	Members Members
	Program *Program // nil: the random dispatcher
	Random  RandomConfig
	// SpawnComplete is closed when the load's initial spawn completes
	// (poll_initial_hatch_complete waits for it); nil: at once.
	SpawnComplete <-chan struct{}
	// OnAction receives every action as it ends (the timeline's writer).
	OnAction func(Action)
	Log      *slog.Logger
	// PollEvery is how often roles are polled while waiting for a leader (default 10 ms).
	PollEvery time.Duration
	// ElectionTimeout bounds the wait for a leader after an action (default 60 s).
	ElectionTimeout time.Duration
	// Rand picks followers and the random dispatcher's moves (default: seeded by time).
	Rand *rand.Rand
	// Probe, if set, measures each fault's first successful write (Action.FirstWrite).
	Probe *Probe

	mu           sync.Mutex
	out          map[int]Role // members this dispatcher took out: Down (disabled), Paused or Cut
	lastDisabled map[int]time.Time

	// last is closed once the last action's row is reported. An action's wait for a
	// leader runs beside the program (an ensemble below its quorum has none until a
	// later action brings a member back); each row waits for the one before, so rows
	// stay in order.
	last chan struct{}
}

// emit reports a once measure (if any) has filled it in and every earlier row is out,
// without holding the program up.
func (d *Dispatcher) emit(a Action, measure func(*Action)) {
	prev, done := d.last, make(chan struct{})
	d.last = done
	go func() {
		defer close(done)
		if measure != nil {
			measure(&a)
		}
		if prev != nil {
			<-prev
		}
		d.report(a)
	}()
}

// settle waits until every row is reported.
func (d *Dispatcher) settle() {
	if d.last != nil {
		<-d.last
	}
}

// Quorum is the number of members a majority needs: ⌊n/2⌋+1.
func Quorum(n int) int { return n/2 + 1 }

// Run runs the program, over and over unless it says once, until ctx ends; then it
// brings back every member it took out, so that no run leaves the ensemble damaged.
// It returns ctx's end as nil, and an error only if the ensemble could not be restored.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	defer d.settle()
	defer d.restore()
	if d.Program == nil {
		d.runRandom(ctx)
		return nil
	}
	for {
		for _, in := range d.Program.Steps {
			if ctx.Err() != nil {
				return nil
			}
			d.step(ctx, in)
		}
		if d.Program.Once {
			d.Log.Info("fault program done (once)")
			<-ctx.Done()
			return nil
		}
	}
}

func (d *Dispatcher) init() {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.PollEvery <= 0 {
		d.PollEvery = 10 * time.Millisecond
	}
	if d.ElectionTimeout <= 0 {
		d.ElectionTimeout = time.Minute
	}
	if d.Rand == nil {
		d.Rand = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	}
	if d.Random == (RandomConfig{}) {
		d.Random = DefaultRandomConfig()
	}
	d.out = map[int]Role{}
	d.lastDisabled = map[int]time.Time{}
}

// restore enables and resumes every member this dispatcher took out, with a context of
// its own: the run's has ended.
func (d *Dispatcher) restore() {
	d.settle()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d.mu.Lock()
	out := make(map[int]Role, len(d.out))
	for i, r := range d.out {
		out[i] = r
	}
	d.mu.Unlock()
	for i, r := range out {
		d.act(ctx, bringBack(r), i, false)
	}
}

// sleep waits for d or ctx's end; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// step runs one instruction.
func (d *Dispatcher) step(ctx context.Context, in Instruction) {
	switch in.Op {
	case OpPollInitialHatch:
		if d.SpawnComplete != nil {
			select {
			case <-d.SpawnComplete:
			case <-ctx.Done():
			}
		}
	case OpSleep:
		sleep(ctx, in.Every)
	case OpPollUp:
		for ctx.Err() == nil && !d.role(ctx, in.Member).Serving() {
			sleep(ctx, max(in.Every, d.PollEvery))
		}
	case OpEnableAll:
		for i := range d.Members.Addrs() {
			if r := d.outRole(i); r != "" {
				d.act(ctx, bringBack(r), i, false)
			}
		}
	case OpDisableLeader, OpPauseLeader, OpRestartLeader, OpPartitionLeader:
		roles := d.roles(ctx)
		leader := leaderOf(roles)
		if leader < 0 {
			d.emit(Action{Time: time.Now(), Action: "skip", Member: -1, LeaderBefore: -1, LeaderAfter: -1, Election: -1, FirstWrite: -1,
				Note: fmt.Sprintf("line %d %s: no member serves as leader", in.Line, in.Op)}, nil)
			return
		}
		d.act(ctx, base(in.Op), leader, in.Force)
	case OpDisableFollower, OpPauseFollower, OpPartitionFollower:
		roles := d.roles(ctx)
		f := d.pickFollower(roles)
		if f < 0 {
			d.emit(Action{Time: time.Now(), Action: "skip", Member: -1, LeaderBefore: leaderOf(roles), LeaderAfter: -1, Election: -1, FirstWrite: -1,
				Note: fmt.Sprintf("line %d %s: no member serves as follower", in.Line, in.Op)}, nil)
			return
		}
		d.act(ctx, base(in.Op), f, in.Force)
	default:
		d.act(ctx, in.Op, in.Member, in.Force)
	}
}

// base is the member-level action of a leader/follower instruction.
func base(op Op) Op {
	switch op {
	case OpDisableLeader, OpDisableFollower:
		return OpDisable
	case OpPauseLeader, OpPauseFollower:
		return OpPause
	case OpRestartLeader:
		return OpRestart
	case OpPartitionLeader, OpPartitionFollower:
		return OpPartition
	}
	return op
}

// bringBack is the action that undoes taking a member out as r.
func bringBack(r Role) Op {
	switch r {
	case Paused:
		return OpResume
	case Cut:
		return OpHeal
	}
	return OpEnable
}

// act does one action on member i and reports it. A disabling action that would leave
// fewer than a quorum serving is skipped unless force.
func (d *Dispatcher) act(ctx context.Context, op Op, i int, force bool) {
	addrs := d.Members.Addrs()
	roles := d.roles(ctx)
	a := Action{Time: time.Now(), Action: string(op), Member: i, Addr: addrs[i], Before: roles[i],
		LeaderBefore: leaderOf(roles), LeaderAfter: -1, Election: -1, FirstWrite: -1}
	if op.Disables() && roles[i].Serving() && !force {
		serving := 0
		for _, r := range roles {
			if r.Serving() {
				serving++
			}
		}
		if q := Quorum(len(addrs)); serving-1 < q {
			a.Action = "skip"
			a.Note = fmt.Sprintf("%s %d would leave %d of %d serving, below the quorum of %d (add \"force\" to the instruction to allow it)",
				op, i, serving-1, len(addrs), q)
			d.emit(a, nil)
			return
		}
	}
	// An action started finishes even if the run ends meanwhile: a member left half
	// started would be neither out nor back.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var err error
	switch op {
	case OpDisable:
		err = d.Members.Disable(actx, i)
		d.setOut(i, Down, err)
	case OpEnable:
		err = d.Members.Enable(actx, i)
		d.setOut(i, "", err)
	case OpPause:
		err = d.Members.Pause(actx, i)
		d.setOut(i, Paused, err)
	case OpResume:
		err = d.Members.Resume(actx, i)
		d.setOut(i, "", err)
	case OpPartition:
		err = d.Members.Partition(actx, i)
		d.setOut(i, Cut, err)
	case OpHeal:
		err = d.Members.Heal(actx, i)
		d.setOut(i, "", err)
	case OpRestart:
		if err = d.Members.Disable(actx, i); err == nil {
			d.setOut(i, Down, nil)
			err = d.Members.Enable(actx, i)
			d.setOut(i, "", err)
		}
	}
	a.Took = time.Since(a.Time)
	if err != nil {
		a.Note = err.Error()
		d.emit(a, nil)
		return
	}
	if op.Disables() {
		d.mu.Lock()
		d.lastDisabled[i] = time.Now()
		d.mu.Unlock()
	}
	end := time.Now()
	d.emit(a, func(a *Action) {
		var wrote chan time.Time
		if d.Probe != nil && op.Disables() {
			wrote = make(chan time.Time, 1)
			go func() {
				wctx, cancel := context.WithTimeout(ctx, d.ElectionTimeout)
				defer cancel()
				wrote <- d.Probe.FirstWrite(wctx)
			}()
		}
		defer func() {
			if wrote != nil {
				if at := <-wrote; !at.IsZero() {
					a.FirstWrite = at.Sub(end)
				}
			}
		}()
		a.LeaderAfter = d.waitLeader(ctx)
		// Only the leader's loss makes an election: after a follower's, the first poll
		// finds the leader still serving, which is no election time.
		if op.Disables() && (a.Before == Leader || a.Before == Standalone) && a.LeaderAfter >= 0 {
			a.Election = time.Since(end)
		}
	})
}

// waitLeader polls until some member serves as leader (or standalone) and returns its
// IDX, or -1 after ElectionTimeout or at ctx's end.
func (d *Dispatcher) waitLeader(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, d.ElectionTimeout)
	defer cancel()
	for {
		if l := leaderOf(d.roles(ctx)); l >= 0 {
			return l
		}
		if !sleep(ctx, d.PollEvery) {
			return -1
		}
	}
}

func (d *Dispatcher) setOut(i int, r Role, err error) {
	if err != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r == "" {
		delete(d.out, i)
	} else {
		d.out[i] = r
	}
}

func (d *Dispatcher) outRole(i int) Role {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out[i]
}

func (d *Dispatcher) report(a Action) {
	if a.Note != "" {
		d.Log.Warn("fault: "+a.Action, "member", a.Member, "addr", a.Addr, "note", a.Note)
	} else {
		d.Log.Info("fault: "+a.Action, "member", a.Member, "addr", a.Addr, "before", string(a.Before),
			"leader_before", a.LeaderBefore, "leader_after", a.LeaderAfter, "took", a.Took.Round(time.Millisecond),
			"election", a.Election.Round(time.Millisecond), "first_write", a.FirstWrite.Round(time.Millisecond))
	}
	if d.OnAction != nil {
		d.OnAction(a)
	}
}

// roles polls every member at once (srvr, which every ZooKeeper allows by default).
func (d *Dispatcher) roles(ctx context.Context) []Role {
	addrs := d.Members.Addrs()
	roles := make([]Role, len(addrs))
	var wg sync.WaitGroup
	for i := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			roles[i] = d.role(ctx, i)
		}()
	}
	wg.Wait()
	return roles
}

// role polls member i; a member this dispatcher paused or cut off is Paused or Cut
// without asking it (a cut leader goes on saying "leader" until it notices it has lost
// its quorum, seconds later: it is no leader the others can follow).
func (d *Dispatcher) role(ctx context.Context, i int) Role {
	if r := d.outRole(i); r == Paused || r == Cut {
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	return PollRole(ctx, d.Members.Addrs()[i])
}

// PollRole asks a member its mode with srvr: Leader, Follower, Standalone, or Down
// when it does not answer as a serving member.
func PollRole(ctx context.Context, addr string) Role {
	out, err := fourlw.Ask(ctx, addr, "srvr")
	if err != nil {
		return Down
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			switch r := Role(strings.TrimSpace(v)); r {
			case Leader, Follower, Standalone:
				return r
			}
		}
	}
	return Down
}

// leaderOf is the IDX of the member serving as leader (or standalone), or -1.
func leaderOf(roles []Role) int {
	for i, r := range roles {
		if r == Leader || r == Standalone {
			return i
		}
	}
	return -1
}

// pickFollower picks, among the serving followers, one of those disabled longest ago
// (never first), at random, as zk-locust did; -1 if none serves.
func (d *Dispatcher) pickFollower(roles []Role) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	var best []int
	var bestAt time.Time
	for i, r := range roles {
		if r != Follower {
			continue
		}
		at := d.lastDisabled[i]
		switch {
		case len(best) == 0 || at.Before(bestAt):
			best, bestAt = []int{i}, at
		case at.Equal(bestAt):
			best = append(best, i)
		}
	}
	if len(best) == 0 {
		return -1
	}
	return best[d.Rand.IntN(len(best))]
}

// runRandom is zk-locust's random dispatcher: after a sleep (longer after a disable
// or an enable), it enables a random member it took out when no more than a quorum
// serve, disables a random serving one when all serve, and otherwise tosses a coin.
func (d *Dispatcher) runRandom(ctx context.Context) {
	wait := d.Random.Sleep
	for sleep(ctx, wait) {
		roles := d.roles(ctx)
		var up, out []int
		for i, r := range roles {
			switch {
			case r.Serving():
				up = append(up, i)
			case d.outRole(i) != "":
				out = append(out, i)
			}
		}
		enable := len(up) <= Quorum(len(roles)) || (len(up) < len(roles) && d.Rand.IntN(2) == 0)
		switch {
		case enable && len(out) > 0:
			i := out[d.Rand.IntN(len(out))]
			d.act(ctx, bringBack(d.outRole(i)), i, false)
			wait = d.Random.SleepAfterEnable
		case !enable && len(up) > Quorum(len(roles)):
			d.act(ctx, OpDisable, up[d.Rand.IntN(len(up))], false)
			wait = d.Random.SleepAfterDisable
		default:
			wait = d.Random.Sleep
		}
	}
}

// ErrUnsupported is returned by Members that cannot do an action.
var ErrUnsupported = errors.New("not supported by this ensemble")
