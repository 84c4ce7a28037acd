package boomer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/boomer/transport"
	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/record"
)

// Heartbeat states, as the master knows them. A worker never sends any other.
const (
	StateReady    = "ready"
	StateSpawning = "spawning"
	StateRunning  = "running"
)

// WorkerOptions configures a Worker. Zero durations take Locust's own values.
type WorkerOptions struct {
	MasterHost string // default 127.0.0.1
	MasterPort int    // default 5557
	// Classes are the user classes this worker can run.
	Classes []*UserClass
	// Host, if set, overrides the host the master sends and the classes' defaults.
	Host string
	// NodeID is the worker's identity (default: <hostname>_<32 hex>, fresh per Worker).
	NodeID string
	Logger *slog.Logger
	// Recorder receives the users' requests (default: a new one).
	Recorder *recorder.Recorder
	// Sink, if set, also receives every request (e.g. zkload's extended statistics).
	Sink record.Sink

	HeartbeatInterval time.Duration // 1 s
	StatsInterval     time.Duration // 3 s
	ReadyRetry        time.Duration // 5 s: client_ready is re-sent until acked
	// MasterTimeout: once a master has sent heartbeats (2.19+), this long without one
	// means it is lost (default 60 s, as Locust's workers).
	MasterTimeout time.Duration
	// WaitAfterStop is added to the stop timeout before re-registering after a stop
	// (Locust's LOCUST_WORKER_ADDITIONAL_WAIT_BEFORE_READY_AFTER_STOP).
	WaitAfterStop time.Duration
	// QuitGrace bounds how long quit waits for requests in flight (default 100 ms),
	// keeping the final report well inside the master's 0.5 s window.
	QuitGrace time.Duration
	// OnTest, if set, is told of the tests the master runs on this worker: one starts
	// (its first spawn), its ramp-up completes, it ends (stop, quit, master lost). It
	// is called from the worker's own goroutine and must not block.
	OnTest func(TestEvent)
	// BeforeTest, if set, sees a test's options (the master's parsed options) before its
	// first users start: what the users' start depends on (a load controller's plan) is
	// set up there. It is called from the worker's own goroutine and must not block.
	BeforeTest func(parsedOptions map[string]any)
	// Limit is the most users the worker runs, whatever a master asks (default:
	// MachineUserLimit when the worker is made). A spawn asking for more runs this
	// many, and says so once a test, as an error.
	Limit *UserLimit
}

// TestEventKind is what happened to a test (see WorkerOptions.OnTest).
type TestEventKind int

// The events of a test on a worker.
const (
	// TestStarted: the first spawn of a test.
	TestStarted TestEventKind = iota
	// TestSpawned: the ramp-up is complete: the master said so (spawning_complete,
	// Locust 2.29+), or, from older masters, no spawn came for a ramp step after the
	// last one (they send one a second while ramping).
	TestSpawned
	// TestEnded: the master stopped the test, asked the worker to quit, or was lost.
	TestEnded
)

// TestEvent is one event of a test on a worker.
type TestEvent struct {
	Kind TestEventKind
	// Index is the number the master gave this worker (unique among its workers).
	Index int
	// ParsedOptions are the master's options of the test.
	ParsedOptions map[string]any
}

// spawnedAfter is how long after its last spawn an older master's ramp-up counts as
// complete: it sends a spawn a second while ramping.
const spawnedAfter = 1500 * time.Millisecond

// Worker is a Locust worker: it registers with a master, runs the users the master
// asks for, and reports their stats until the master tells it to quit.
type Worker struct {
	opts  WorkerOptions
	log   *slog.Logger
	rec   *recorder.Recorder
	users *Users

	handlers map[string]func(wire.Message)
	// The test in progress, for OnTest: started, and whether its ramp-up completed;
	// spawnedTimer fires spawnedAfter after the last spawn.
	testOn, testSpawned bool
	testOptions         map[string]any
	spawnedTimer        *time.Timer

	conn         atomic.Pointer[transport.Conn]
	state        atomic.Value // string: StateReady, StateSpawning, StateRunning
	registered   atomic.Bool  // acked by the current master
	lastMasterHB atomic.Int64 // unix nanos of the last master heartbeat; 0: none to expect
	lost         chan string
	sentRequests atomic.Int64 // requests in the reports sent so far
	sentFailures atomic.Int64

	// Owned by the Run goroutine.
	connected   bool
	lastSpawnTS float64
	index       int
	stopTimeout time.Duration
	stopping    <-chan struct{} // users stopping after a stop message
	readyAt     *time.Timer     // the end of the wait after a stop
	afterStop   bool            // readyAt runs: client_ready waits for it, retries too
	backlog     []wire.Message
	bad         badFrames // malformed frames from the master, for bounded logging
	overLimit   bool      // this test's spawns were cut to the user limit (logged once)
}

// badFrames bounds the logging of malformed frames: the first of each link is logged
// in full, the rest counted and logged at most once per badFramesEvery, and once more
// when a well-formed message follows them.
type badFrames struct {
	seen    bool      // one was logged on this link
	unsaid  int       // counted since the last line
	lastErr error     // the last one's error
	saidAt  time.Time // the last line
}

const badFramesEvery = 10 * time.Second

// NewWorker checks the options and prepares a worker; Run starts it.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	if opts.MasterHost == "" {
		opts.MasterHost = "127.0.0.1"
	}
	if opts.MasterPort == 0 {
		opts.MasterPort = 5557
	}
	if opts.MasterPort < 1 || opts.MasterPort > 65535 {
		return nil, fmt.Errorf("master port %d: want 1-65535", opts.MasterPort)
	}
	if len(opts.Classes) == 0 {
		return nil, errors.New("no user classes to run")
	}
	if opts.NodeID == "" {
		id, err := NewNodeID()
		if err != nil {
			return nil, err
		}
		opts.NodeID = id
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Recorder == nil {
		opts.Recorder = recorder.New(recorder.Options{})
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.HeartbeatInterval, time.Second)
	def(&opts.StatsInterval, 3*time.Second)
	def(&opts.ReadyRetry, 5*time.Second)
	def(&opts.MasterTimeout, 60*time.Second)
	def(&opts.QuitGrace, 100*time.Millisecond)
	if opts.Limit == nil {
		l := MachineUserLimit()
		opts.Limit = &l
	}
	users, err := NewUsers(opts.Classes, opts.Recorder, opts.Host, opts.Logger)
	if err != nil {
		return nil, err
	}
	if opts.Sink != nil {
		users.SetSink(opts.Sink)
	}
	w := &Worker{
		opts:     opts,
		log:      opts.Logger.With("node", opts.NodeID),
		rec:      opts.Recorder,
		users:    users,
		handlers: map[string]func(wire.Message){},
		lost:     make(chan string, 1),
	}
	w.state.Store(StateReady)
	return w, nil
}

// NewNodeID returns a node id shaped as Locust's: <hostname>_<32 hex>. The master
// spreads users across hosts by the text before the first "_".
func NewNodeID() (string, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "zkload"
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("node id: %w", err)
	}
	return host + "_" + hex.EncodeToString(b[:]), nil
}

// NodeID is the worker's identity on the master.
func (w *Worker) NodeID() string { return w.opts.NodeID }

// UserCount is the number of users running now.
func (w *Worker) UserCount() int {
	_, n := w.users.Counts()
	return n
}

// UserCounts is the number of users running now, in all and per class.
func (w *Worker) UserCounts() (int, map[string]int) {
	byClass, n := w.users.Counts()
	return n, byClass
}

// Recorder is where the worker's users record their requests.
func (w *Worker) Recorder() *recorder.Recorder { return w.rec }

// State is the worker's state as its heartbeats report it.
func (w *Worker) State() string { return w.state.Load().(string) }

// Handle registers fn for custom messages of type typ from the master (Locust's
// runner.register_message). fn runs on the worker's message loop and must not block.
// Call it before Run.
func (w *Worker) Handle(typ string, fn func(wire.Message)) { w.handlers[typ] = fn }

// SetSink makes the users started from now on record into s as well as into the
// Locust stats (nil: into the Locust stats alone). Called from BeforeTest, it chooses
// the sink of the test about to start.
func (w *Worker) SetSink(s record.Sink) { w.users.SetSink(s) }

// Send sends a custom message to the master. It fails if the worker is not running.
func (w *Worker) Send(typ string, data any) error {
	return w.send(typ, data)
}

func (w *Worker) send(typ string, data any) error {
	c := w.conn.Load()
	if c == nil {
		return errors.New("worker is not connected")
	}
	frame, err := wire.Encode(wire.Message{Type: typ, Data: data, NodeID: w.opts.NodeID})
	if err != nil {
		return err
	}
	if err := c.Send(frame); err != nil {
		return fmt.Errorf("send %s: %w", typ, err)
	}
	return nil
}

func (w *Worker) sendOrLog(typ string, data any) {
	if err := w.send(typ, data); err != nil {
		w.log.Warn("could not send message", "type", typ, "err", err)
	}
}

// Run connects to the master and serves it until the master sends quit (nil) or ctx is
// cancelled, in which case the worker quits as on a master's quit: it stops its users,
// sends its final stats and tells the master it quits.
func (w *Worker) Run(ctx context.Context) error {
	addr := "tcp://" + net.JoinHostPort(w.opts.MasterHost, strconv.Itoa(w.opts.MasterPort))
	conn, err := transport.Dial(transport.Options{Addr: addr, Identity: w.opts.NodeID, Logger: w.log})
	if err != nil {
		return fmt.Errorf("connect to master %s: %w", addr, err)
	}
	w.conn.Store(conn)
	w.log.Info("worker started", "master", addr, "classes", len(w.opts.Classes))

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.heartbeats(bg) }()
	go func() { defer wg.Done(); w.reports(bg) }()
	quit := func() error {
		stopBG()
		wg.Wait()
		w.quit(conn)
		return nil
	}

	readyTick := time.NewTicker(w.opts.ReadyRetry)
	defer readyTick.Stop()
	w.spawnedTimer = time.NewTimer(time.Hour)
	w.spawnedTimer.Stop()
	defer w.testEvent(TestEnded)
	w.readyAt = time.NewTimer(time.Hour)
	w.readyAt.Stop()
	for {
		var next wire.Message
		if len(w.backlog) > 0 {
			next, w.backlog = w.backlog[0], w.backlog[1:]
			if w.handle(ctx, next) {
				return quit()
			}
			continue
		}
		select {
		case <-ctx.Done():
			w.log.Info("quitting: " + context.Cause(ctx).Error())
			return quit()
		case frame, ok := <-conn.Recv():
			if !ok {
				stopBG()
				wg.Wait()
				w.users.StopAll(0)
				if err := conn.Close(0); err != nil {
					return fmt.Errorf("master link failed: %w", err)
				}
				return errors.New("master link closed")
			}
			w.receive(frame)
			w.drain(conn)
		case ev := <-conn.Events():
			w.event(ev)
		case <-readyTick.C:
			if w.connected && !w.registered.Load() && w.readyPending() {
				w.sendReady("no ack yet")
			}
		case reason := <-w.lost:
			w.masterLost(reason)
		case <-w.spawnedTimer.C:
			w.testEvent(TestSpawned)
		case <-w.stopping:
			w.stopping = nil
			// The users have stopped: report what they did since the last report now,
			// while the master still knows this worker, rather than after re-registering.
			w.sendReport()
			w.sendOrLog(wire.TypeClientStopped, nil)
			// The master forgets this worker now; it re-registers after the stop
			// timeout, as Locust's workers do.
			w.registered.Store(false)
			w.afterStop = true
			w.readyAt.Reset(w.stopTimeout + w.opts.WaitAfterStop)
		case <-w.readyAt.C:
			w.afterStop = false
			w.state.Store(StateReady) // before client_ready: no heartbeat may say running
			w.sendReady("stopped")
		case ex := <-w.users.Exceptions():
			if w.registered.Load() {
				w.sendOrLog(wire.TypeException, ex)
			}
		}
	}
}

// readyPending reports whether the worker is waiting for an ack: not in a stop, nor in
// the wait after one (a client_ready then would end the wait early, and a second one
// once it ends could reach the master during its next test, which would then count
// this worker twice).
func (w *Worker) readyPending() bool { return w.stopping == nil && !w.afterStop }

func (w *Worker) sendReady(why string) {
	w.log.Info("sending client_ready", "why", why)
	w.sendOrLog(wire.TypeClientReady, wire.ClientReadyVersion)
}

// receive decodes one frame into the backlog.
func (w *Worker) receive(frame []byte) {
	m, err := wire.Decode(frame)
	b := &w.bad
	if err != nil {
		switch {
		case !b.seen:
			b.seen, b.saidAt = true, time.Now()
			w.log.Error("ignoring malformed message from master; more are counted, logged every "+badFramesEvery.String(),
				"err", err, "bytes", len(frame))
		default:
			b.unsaid++
			b.lastErr = err
			if time.Since(b.saidAt) >= badFramesEvery {
				w.sayBadFrames()
			}
		}
		return
	}
	if b.unsaid > 0 {
		w.sayBadFrames()
	}
	w.backlog = append(w.backlog, m)
}

func (w *Worker) sayBadFrames() {
	b := &w.bad
	w.log.Error("ignored more malformed messages from master", "count", b.unsaid, "last_err", b.lastErr)
	b.unsaid, b.saidAt = 0, time.Now()
}

// drain takes every frame already received, so that a spawn can see whether a newer
// spawn is waiting behind it.
func (w *Worker) drain(conn *transport.Conn) {
	for {
		select {
		case frame, ok := <-conn.Recv():
			if !ok {
				return
			}
			w.receive(frame)
		default:
			return
		}
	}
}

func (w *Worker) event(ev transport.Event) {
	switch ev {
	case transport.Connected:
		w.log.Info("connected to master")
		w.connected = true
		if w.bad.unsaid > 0 {
			w.sayBadFrames()
		}
		w.bad = badFrames{}
		if !w.registered.Load() && w.readyPending() {
			w.sendReady("connected")
		}
	case transport.Disconnected:
		w.connected = false
		w.masterLost("link to master went down")
	}
}

// masterLost forgets the master: users stop, unreported stats are dropped, and the
// worker registers again as a new worker. Until a new ack and spawn nothing but
// client_ready is sent, since a master that does not know this worker crashes on
// spawning/spawning_complete.
func (w *Worker) masterLost(reason string) {
	w.log.Warn("master lost; re-registering", "reason", reason)
	w.testEvent(TestEnded)
	w.registered.Store(false)
	w.lastMasterHB.Store(0)
	w.users.StopAll(0)
	w.rec.Clear()
	w.drainExceptions()
	w.lastSpawnTS = 0 // a new master may have a slower clock
	w.stopping = nil
	w.readyAt.Stop()
	w.afterStop = false
	w.state.Store(StateReady)
	if w.connected {
		w.sendReady("master lost")
	}
}

func (w *Worker) drainExceptions() {
	for {
		select {
		case <-w.users.Exceptions():
		default:
			return
		}
	}
}

// handle acts on one message; it returns true when the worker must quit.
func (w *Worker) handle(ctx context.Context, m wire.Message) bool {
	switch m.Type {
	case wire.TypeAck:
		if w.registered.Load() {
			w.log.Debug("extra ack ignored")
			return false
		}
		w.registered.Store(true)
		w.index = wire.AckIndex(m.Data)
		if w.lastMasterHB.Load() != 0 {
			w.lastMasterHB.Store(time.Now().UnixNano())
		}
		w.log.Info("registered with master", "index", w.index)
	case wire.TypeSpawn:
		if !w.registered.Load() {
			w.log.Warn("spawn from a master that has not acked this worker; ignored")
			return false
		}
		w.spawn(ctx, m)
	case wire.TypeStop:
		if !w.registered.Load() {
			return false
		}
		w.log.Info("stopping users", "stop_timeout", w.stopTimeout)
		w.testEvent(TestEnded)
		w.stopping = w.users.StopAll(w.stopTimeout)
	case wire.TypeQuit:
		w.log.Info("master asked to quit")
		return true
	case wire.TypeHeartbeat:
		// Said once per registration: from now on this master's silence means it is
		// lost, which an operator should know before it happens.
		if w.lastMasterHB.Swap(time.Now().UnixNano()) == 0 {
			w.log.Info("master sends heartbeats; without one for master_timeout it counts as lost",
				"master_timeout", w.opts.MasterTimeout)
		} else {
			w.log.Debug("heartbeat from master")
		}
	case wire.TypeReconnect:
		w.log.Warn("master asked to reconnect")
		if c := w.conn.Load(); c != nil {
			c.Reconnect()
		}
	case wire.TypeSpawningComplete:
		w.log.Debug("master reports ramp-up complete", "data", m.Data)
		w.testEvent(TestSpawned)
	case wire.TypeUpdateUserClass:
		attrs, _ := m.Data.(map[string]any)
		name, _ := attrs["user_class_name"].(string)
		ignored, err := w.users.UpdateClass(name, attrs)
		if err != nil {
			w.log.Warn("update_user_class ignored", "err", err)
			return false
		}
		args := []any{"class", name}
		for _, k := range []string{"weight", "host"} {
			if v, ok := attrs[k]; ok {
				args = append(args, k, v)
			}
		}
		if len(ignored) > 0 {
			args = append(args, "ignored", ignored)
		}
		w.log.Info("user class updated by master", args...)
	default:
		if fn, ok := w.handlers[m.Type]; ok {
			fn(m)
			return false
		}
		w.log.Warn("unknown message type from master; ignored", "type", m.Type)
	}
	return false
}

func (w *Worker) spawn(ctx context.Context, m wire.Message) {
	s, err := wire.ParseSpawn(m.Data)
	if err != nil {
		w.log.Error("ignoring spawn", "err", err)
		return
	}
	if s.Timestamp <= w.lastSpawnTS {
		w.log.Info("discarding spawn with an older or equal timestamp", "timestamp", s.Timestamp)
		return
	}
	w.lastSpawnTS = s.Timestamp
	for _, later := range w.backlog {
		if later.Type == wire.TypeSpawn {
			if ls, err := wire.ParseSpawn(later.Data); err == nil && ls.Timestamp > s.Timestamp {
				w.log.Debug("spawn superseded by a newer one", "timestamp", s.Timestamp)
				return
			}
		}
	}
	w.sendOrLog(wire.TypeSpawning, nil)
	if w.stopping != nil || w.State() == StateReady {
		// A new test: what was not reported belongs to the previous one.
		w.stopping = nil
		w.readyAt.Stop()
		w.afterStop = false
		w.rec.Clear()
		w.drainExceptions()
		w.overLimit = false
		if w.opts.BeforeTest != nil {
			w.opts.BeforeTest(s.ParsedOptions)
		}
	}
	w.stopTimeout = s.StopTimeout
	w.users.Configure(&Env{WorkerIndex: w.index, ParsedOptions: s.ParsedOptions},
		s.Host, s.StopTimeout, s.Tags, s.ExcludeTags)
	w.state.Store(StateSpawning)
	targets, asked := limitTargets(w.opts.Classes, s.UserClassesCount, w.opts.Limit.Users)
	if asked > w.opts.Limit.Users && !w.overLimit {
		w.overLimit = true
		w.log.Error(fmt.Sprintf("master asked for %d users, more than this worker can hold; running at most %s", asked, w.opts.Limit),
			"asked", s.UserClassesCount, "running", targets)
	}
	if err := w.users.SetTargetsContext(ctx, targets); err != nil {
		// The worker is quitting (or a master's stop overtook the spawn): the users
		// started so far are stopped with the others.
		w.log.Info("spawn interrupted", "err", err)
		return
	}
	counts, total := w.users.Counts()
	w.sendOrLog(wire.TypeSpawningComplete, wire.SpawningComplete{UserClassesCount: counts, UserCount: total})
	w.state.Store(StateRunning)
	w.log.Info("spawned users", "counts", counts)
	w.testOptions = s.ParsedOptions
	w.testEvent(TestStarted)
	if !w.testSpawned && w.spawnedTimer != nil {
		w.spawnedTimer.Reset(rampStepWait(s.ParsedOptions))
	}
}

// rampStepWait is how long after a spawn an older master's ramp-up counts as complete:
// spawnedAfter, or more when the spawn rate (users per second, in the master's
// options) is under one, so that its steps come further apart.
func rampStepWait(opts map[string]any) time.Duration {
	var rate float64
	switch v := opts["spawn_rate"].(type) {
	case float64:
		rate = v
	case int64:
		rate = float64(v)
	}
	if rate > 0 && rate < 1 {
		return max(spawnedAfter, time.Duration(float64(spawnedAfter)/rate))
	}
	return spawnedAfter
}

// testEvent tells OnTest of an event, once per test and in order: started, spawned,
// ended (a test ended before it spawned is never said to have spawned).
func (w *Worker) testEvent(k TestEventKind) {
	switch k {
	case TestStarted:
		if w.testOn {
			return
		}
		w.testOn, w.testSpawned = true, false
	case TestSpawned:
		if !w.testOn || w.testSpawned {
			return
		}
		w.testSpawned = true
		w.spawnedTimer.Stop()
	case TestEnded:
		if !w.testOn {
			return
		}
		w.testOn = false
		if w.spawnedTimer != nil {
			w.spawnedTimer.Stop()
		}
	}
	if w.opts.OnTest != nil {
		w.opts.OnTest(TestEvent{Kind: k, Index: w.index, ParsedOptions: w.testOptions})
	}
}

// limitTargets returns the per-class counts a master asked for (asked users in all,
// classes this worker has), cut if needed to limit users in all: each class keeps its
// share of the limit, rounded down, and what rounding leaves goes to the classes in
// order. Counts of classes the worker lacks are kept, to be reported as 0.
func limitTargets(classes []*UserClass, want map[string]int, limit int) (map[string]int, int) {
	asked := 0
	for _, c := range classes {
		asked = satAdd(asked, max(want[c.Name], 0))
	}
	if asked <= limit {
		return want, asked
	}
	out := make(map[string]int, len(want))
	for name, n := range want {
		out[name] = n
	}
	left := limit
	for _, c := range classes {
		n := max(want[c.Name], 0)
		share := int(float64(n) / float64(asked) * float64(limit))
		out[c.Name] = min(share, n)
		left -= out[c.Name]
	}
	for _, c := range classes {
		extra := min(left, max(want[c.Name], 0)-out[c.Name])
		out[c.Name] += extra
		left -= extra
	}
	return out, asked
}

// heartbeats sends a heartbeat every interval and watches the master's. It touches
// nothing the message loop or the users hold, so nothing can delay it.
func (w *Worker) heartbeats(ctx context.Context) {
	t := time.NewTicker(w.opts.HeartbeatInterval)
	defer t.Stop()
	var cpu cpuMeter
	cpu.percent()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !w.registered.Load() {
			continue
		}
		w.sendOrLog(wire.TypeHeartbeat, wire.Heartbeat{
			State:              w.State(),
			CurrentCPUUsage:    cpu.percent(),
			CurrentMemoryUsage: rssBytes(),
		})
		if last := w.lastMasterHB.Load(); last != 0 && time.Since(time.Unix(0, last)) > w.opts.MasterTimeout {
			w.lastMasterHB.Store(0)
			select {
			case w.lost <- fmt.Sprintf("no heartbeat from master for %s", w.opts.MasterTimeout):
			default:
			}
		}
	}
}

// reports sends a stats report every interval while registered, idle or not.
func (w *Worker) reports(ctx context.Context) {
	t := time.NewTicker(w.opts.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if w.registered.Load() {
			w.sendReport()
		}
	}
}

func (w *Worker) sendReport() {
	rep := w.rec.Report()
	rep.UserClassesCount, rep.UserCount = w.users.Counts()
	if err := w.send(wire.TypeStats, rep); err != nil {
		w.log.Warn("stats report lost", "err", err, "requests", rep.StatsTotal.NumRequests)
		return
	}
	w.sentRequests.Add(rep.StatsTotal.NumRequests)
	w.sentFailures.Add(rep.StatsTotal.NumFailures)
}

// Reported returns the requests and failures in the stats reports sent so far.
func (w *Worker) Reported() (requests, failures int64) {
	return w.sentRequests.Load(), w.sentFailures.Load()
}

// quit stops the users, giving requests in flight QuitGrace to finish, sends the final
// report and quit, and closes the link once they have left.
func (w *Worker) quit(conn *transport.Conn) {
	done := w.users.StopAll(w.opts.QuitGrace)
	t := time.NewTimer(w.opts.QuitGrace + 50*time.Millisecond)
	select {
	case <-done:
	case <-t.C:
		w.log.Warn("some users were still busy at quit")
	}
	t.Stop()
	if w.registered.Load() {
		w.sendReport()
		w.drainPendingExceptions()
		w.sendOrLog(wire.TypeQuit, nil)
	}
	if err := conn.Close(time.Second); err != nil {
		w.log.Warn("closing master link", "err", err)
	}
	w.conn.Store(nil)
	req, fail := w.Reported()
	w.log.Info("worker quit", "reported_requests", req, "reported_failures", fail, "undelivered_frames", conn.Dropped())
}

func (w *Worker) drainPendingExceptions() {
	for {
		select {
		case ex := <-w.users.Exceptions():
			w.sendOrLog(wire.TypeException, ex)
		default:
			return
		}
	}
}
