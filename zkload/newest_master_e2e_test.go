package main

// End-to-end tests of what newer Locust masters do differently, against the real
// masters (Debian's 2.12.1 and the newest), rather than the fake master of
// internal/fakemaster: master heartbeats, spawning_complete, float stop_timeout,
// update_user_class, reconnect, and exact request counts on a stop and on a quit.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
)

// eventually polls cond every 100 ms until it holds, and fails the test with what's
// message if it does not within timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// masterCounts waits until the master's /stats/requests holds want requests (its
// answer is cached for up to 2 s) and fails the test, saying what it holds, if not.
func masterCounts(t *testing.T, m *testenv.Master, want int64) testenv.WebStats {
	t.Helper()
	var st testenv.WebStats
	eventually(t, 10*time.Second, func() bool {
		st = m.Stats()
		return st.Aggregated().NumRequests == want
	}, func() string {
		return fmt.Sprintf("the master counted %d requests, the target served %d", st.Aggregated().NumRequests, want)
	})
	return st
}

// servedMore waits until the target has served at least n requests more than from.
func servedMore(t *testing.T, target *testenv.Target, from, n int64) {
	t.Helper()
	eventually(t, 15*time.Second, func() bool { return target.Total() >= from+n },
		func() string {
			return fmt.Sprintf("the target served %d requests, want %d more than %d", target.Total(), n, from)
		})
}

// noMasterErrors fails the test if the master's log shows an exception.
func noMasterErrors(t *testing.T, m *testenv.Master) {
	t.Helper()
	for _, bad := range []string{"Traceback", "KeyError", "Uncaught exception", "Unknown message type"} {
		if m.LogContains(regexp.QuoteMeta(bad)) {
			t.Errorf("master's log has %q:\n%s", bad, strings.Join(m.LogLines(regexp.QuoteMeta(bad)), "\n"))
		}
	}
}

// noWorkerComplaints fails the test if the worker logged a warning or an error.
func noWorkerComplaints(t *testing.T, w *testenv.Proc) {
	t.Helper()
	if lines := w.LogLines(`level=(WARN|ERROR)`); len(lines) > 0 {
		t.Errorf("%s complained:\n%s", w.Label, strings.Join(lines, "\n"))
	}
}

// readyAfterStop waits for a worker's client_ready after the master's stop (the worker
// log's mark taken before it) and checks that it is the one due once the stop timeout
// is over: no retry of an unanswered client_ready may come first. It returns the
// worker's "stopping users" line and that client_ready line.
func readyAfterStop(t *testing.T, w *testenv.Proc, mark int) (stopping, ready string) {
	t.Helper()
	stopping = w.WaitLogAfter(mark, `stopping users`, 10*time.Second)
	ready = w.WaitLogAfter(mark, `sending client_ready`, 15*time.Second)
	if !strings.Contains(ready, "why=stopped") {
		t.Errorf("%s sent client_ready before the end of the wait after the stop:\n%s", w.Label, ready)
	}
	return stopping, ready
}

// TestNewestMasterHeartbeats: the newest master answers heartbeats; a zkload worker
// notices them, and when the master freezes (SIGSTOP) for longer than --master-timeout
// it treats the master as lost, and once the master thaws it registers again and takes
// part in the next run. Locust 2.12.1 sends no heartbeats: the worker must then not
// re-register over the same freeze, and its users keep running.
func TestNewestMasterHeartbeats(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		sendsHeartbeats := l.Newer("2.19.0")
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL, StopTimeout: time.Second})
		w := startWorker(t, m, "-L", "DEBUG", "--master-timeout", "3s")
		m.WaitReadyWorkers(1, 20*time.Second)
		m.Swarm(2, 2, "")
		w.WaitLog(`spawned users.*counts=map\[Http:2\]`, 20*time.Second)
		if sendsHeartbeats {
			w.WaitLog(`master sends heartbeats.*master_timeout=3s`, 10*time.Second)
			w.WaitLogCount(`heartbeat from master`, 2, 10*time.Second)
		}

		mark, mmark := w.Mark(), m.Mark()
		m.Signal(syscall.SIGSTOP)
		frozenAt := target.Total()
		if sendsHeartbeats {
			w.WaitLogAfter(mark, `master lost; re-registering.*no heartbeat from master for 3s`, 15*time.Second)
		} else {
			// Nothing to wait for: the test is that nothing happens over a freeze longer
			// than --master-timeout.
			time.Sleep(5 * time.Second)
		}
		duringFreeze := target.Total() - frozenAt
		m.Signal(syscall.SIGCONT)

		if sendsHeartbeats {
			// The frozen master still knows the worker: the new client_ready replaces its
			// entry, and as the test still runs the master gives it its users again.
			w.WaitLogAfter(mark, `registered with master`, 20*time.Second)
			w.WaitLogAfter(mark, `spawned users.*counts=map\[Http:2\]`, 20*time.Second)
		} else {
			if lines := w.LogLines(`master lost|sending client_ready.*why=master lost`); len(lines) > 0 {
				t.Errorf("the worker re-registered with a master that sends no heartbeats:\n%s", strings.Join(lines, "\n"))
			}
			if n := len(workerIndexes(w)); n != 1 {
				t.Errorf("the worker registered %d times, want once", n)
			}
			// Its users kept loading the target while the master was frozen.
			if duringFreeze == 0 {
				t.Errorf("no requests while the master was frozen: the worker stopped its users")
			}
		}
		var users int
		eventually(t, 10*time.Second, func() bool { users = m.Stats().UserCount; return users == 2 },
			func() string { return fmt.Sprintf("after the freeze the master counts %d users, want 2", users) })

		// The next run: stop, and a new test with another user count.
		mmark, wmark := m.Mark(), w.Mark()
		m.StopTest()
		m.WaitLogAfter(mmark, `reported that it has stopped`, 15*time.Second)
		readyAfterStop(t, w, wmark)
		m.WaitLogAfter(mmark, `reported as ready`, 15*time.Second)
		wmark = w.Mark()
		served := target.Total()
		m.Swarm(3, 3, "")
		m.WaitLogAfter(mmark, `All users spawned: .*"Http": 3.*\(3 total users\)`, 20*time.Second)
		w.WaitLogAfter(wmark, `spawned users.*counts=map\[Http:3\]`, 20*time.Second)
		servedMore(t, target, served, 20)
		eventually(t, 10*time.Second, func() bool { return m.Stats().Aggregated().NumRequests > 0 },
			func() string { return "the master counted nothing in the next run" })
		if sendsHeartbeats {
			w.WaitLogAfter(wmark, `heartbeat from master`, 5*time.Second)
		}
		noMasterErrors(t, m)
		m.CheckAlive(10 * time.Second)
	})
}

// TestNewestMasterSpawningComplete: since 2.29 the master tells its workers once a
// ramp-up is over (spawning_complete with the total user count); a zkload worker takes
// it without complaint, and the master's totals are right.
func TestNewestMasterSpawningComplete(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		if !l.Newer("2.29.0") {
			t.Skipf("Locust %s sends workers no spawning_complete (since 2.29.0)", l.Version)
		}
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL})
		w1 := startWorker(t, m, "-L", "DEBUG")
		w2 := startWorker(t, m, "-L", "DEBUG")
		m.WaitReadyWorkers(2, 20*time.Second)

		// -r 2 to 5 users: three spawns a second apart, then one spawning_complete.
		m.Swarm(5, 2, "")
		m.WaitLog(`All users spawned: .*"Http": 5.*\(5 total users\)`, 20*time.Second)
		complete := `master reports ramp-up complete.*data=map\[user_count:%d\]`
		for _, w := range []*testenv.Proc{w1, w2} {
			w.WaitLog(fmt.Sprintf(complete, 5), 10*time.Second)
			if n := w.LogCount(`spawned users`); n != 3 {
				t.Errorf("%s applied %d spawns, want 3", w.Label, n)
			}
		}
		last := func(w *testenv.Proc) string {
			lines := w.LogLines(`spawned users`)
			return lines[len(lines)-1]
		}
		counts := last(w1) + last(w2)
		if !strings.Contains(counts, "map[Http:3]") || !strings.Contains(counts, "map[Http:2]") {
			t.Errorf("the workers run 3 and 2 users, their last spawns say:\n%s", counts)
		}

		// Down to 2: another spawning_complete, with the new total.
		m1, m2, mm := w1.Mark(), w2.Mark(), m.Mark()
		m.Swarm(2, 10, "")
		m.WaitLogAfter(mm, `All users spawned: .*"Http": 2.*\(2 total users\)`, 20*time.Second)
		w1.WaitLogAfter(m1, fmt.Sprintf(complete, 2), 10*time.Second)
		w2.WaitLogAfter(m2, fmt.Sprintf(complete, 2), 10*time.Second)
		for _, w := range []*testenv.Proc{w1, w2} {
			if n := w.LogCount(`master reports ramp-up complete`); n != 2 {
				t.Errorf("%s got %d spawning_complete messages, want one per ramp (2)", w.Label, n)
			}
			noWorkerComplaints(t, w)
		}
		if m.LogContains("report waittime is expired") {
			t.Errorf("a worker's spawning_complete came late")
		}
		noMasterErrors(t, m)
	})
}

// stopTimeoutLocustfile is the Http locustfile with a stop timeout of 1.5 s set by the
// locustfile itself: the only way to give a Locust master a fractional one (the newest
// master's --stop-timeout takes whole seconds only, like -t).
func stopTimeoutLocustfile(t *testing.T) string {
	t.Helper()
	path := httpLocustfile(t)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`

@events.init.add_listener
def _stop_timeout(environment, **kwargs):
    environment.stop_timeout = 1.5
`); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNewestMasterFloatStopTimeout: a spawn's stop_timeout of 1.5 (a float, as masters
// since 2.13 always send it) is applied: on the master's stop, users finish the request
// they are in (each takes 1 s) and it is counted; the worker waits the stop timeout
// before registering again.
func TestNewestMasterFloatStopTimeout(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: time.Second})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: stopTimeoutLocustfile(t), Host: target.URL})
		w := startWorker(t, m)
		m.WaitReadyWorkers(1, 20*time.Second)
		m.Swarm(2, 2, "")
		w.WaitLog(`spawned users.*counts=map\[Http:2\]`, 20*time.Second)
		// Requests take a second and follow each other at once: when the stop comes,
		// each user is in one (here, past its first).
		servedMore(t, target, 0, 3)

		mark := w.Mark()
		m.StopTest()
		stopping, ready := readyAfterStop(t, w, mark)
		if !strings.Contains(stopping, "stop_timeout=1.5s") {
			t.Fatalf("the worker did not take the master's stop timeout of 1.5 s: %s", stopping)
		}
		if d := logTime(t, ready).Sub(logTime(t, stopping)); d < 1500*time.Millisecond || d > 3*time.Second {
			t.Errorf("the worker registered again %v after the stop, want the stop timeout (1.5 s) plus the users' last request", d)
		}
		if w.LogContains(`Not all users finished`) {
			t.Errorf("users did not finish a 1 s request within 1.5 s:\n%s", strings.Join(w.LogLines(`Not all users`), "\n"))
		}
		// Every request that reached the target ended and was counted: none was cut.
		served := target.Total()
		st := masterCounts(t, m, served)
		if f := st.Aggregated().NumFailures; f != 0 {
			t.Errorf("%d failures", f)
		}
		if target.Total() != served {
			t.Errorf("requests after the stop: %d, then %d", served, target.Total())
		}
		noMasterErrors(t, m)
	})
}

// TestNewestMasterUpdateUserClass: the newest web UI's class editor (--class-picker,
// POST /user) makes the master send update_user_class; a zkload worker applies the
// class's new host, which its users then load since the master gives none.
func TestNewestMasterUpdateUserClass(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		if !l.Newer("2.25.0") {
			t.Skipf("Locust %s has no class editor and sends no update_user_class (since 2.25.0)", l.Version)
		}
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		// No -H: the users' host can only come from the class.
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), ExtraArgs: []string{"--class-picker"}})
		w := startWorker(t, m)
		m.WaitReadyWorkers(1, 20*time.Second)

		// What the web UI's editor posts: the class's json() with edits, numbers as numbers.
		body := fmt.Sprintf(`{"tasks": ["run_on_zkload_worker"], "host": %q, "weight": 3, "fixed_count": 0, "user_class_name": "Http"}`, target.URL)
		resp, err := http.Post(m.WebURL()+"/user", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /user: %s", resp.Status)
		}
		w.WaitLog(`user class updated by master.* class=Http weight=3 host=`+regexp.QuoteMeta(target.URL)+
			` ignored="?\[fixed_count tasks\]`, 10*time.Second)

		m.Swarm(2, 2, "")
		w.WaitLog(`spawned users.*counts=map\[Http:2\]`, 20*time.Second)
		servedMore(t, target, 0, 20)
		eventually(t, 10*time.Second, func() bool { return m.Stats().Aggregated().NumRequests > 0 },
			func() string { return "the master counted no requests" })
		if st := m.Stats(); st.Aggregated().NumFailures != 0 {
			t.Errorf("%d failures", st.Aggregated().NumFailures)
		}
		noWorkerComplaints(t, w)
		noMasterErrors(t, m)
	})
}

// zmtpProxy sits between workers and a master and passes ZeroMQ (ZMTP 3) traffic
// through, except that, when armed, it appends a byte to the next heartbeat a worker
// sends: the master cannot decode that frame (msgpack's ExtraData), which is what makes
// a real master send "reconnect".
type zmtpProxy struct {
	t         *testing.T
	ln        net.Listener
	master    string
	armed     atomic.Bool
	corrupted chan struct{} // gets a value for each corrupted frame

	mu    sync.Mutex
	conns []net.Conn
}

func startZMTPProxy(t *testing.T, masterPort int) *zmtpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &zmtpProxy{t: t, ln: ln, master: fmt.Sprintf("127.0.0.1:%d", masterPort), corrupted: make(chan struct{}, 10)}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
	})
	return p
}

func (p *zmtpProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *zmtpProxy) accept() {
	for {
		wc, err := p.ln.Accept()
		if err != nil {
			return
		}
		mc, err := net.Dial("tcp", p.master)
		if err != nil {
			wc.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, wc, mc)
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(wc, mc)
			wc.Close()
		}()
		go func() {
			if err := p.forward(mc, wc); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				p.t.Logf("zmtp proxy: %v", err)
			}
			mc.Close()
		}()
	}
}

// heartbeatPrefix starts every heartbeat a worker sends: a 3-array, then "heartbeat".
var heartbeatPrefix = append([]byte{0x93, 0xa9}, "heartbeat"...)

// forward copies a worker's side of a ZMTP 3 connection frame by frame: the 64-byte
// greeting, then frames of a flags byte (0x01 more, 0x02 long size, 0x04 command), a
// size of 1 or 8 bytes, and the body.
func (p *zmtpProxy) forward(dst io.Writer, src io.Reader) error {
	r := bufio.NewReader(src)
	buf := make([]byte, 64)
	// The greeting is copied as it comes: libzmq sends part of it, then waits for the
	// peer's.
	for n := 0; n < 64; {
		k, err := r.Read(buf[:64-n])
		if err != nil {
			return fmt.Errorf("greeting: %w", err)
		}
		if _, err := dst.Write(buf[:k]); err != nil {
			return err
		}
		n += k
	}
	for {
		flags, err := r.ReadByte()
		if err != nil {
			return err
		}
		var size uint64
		if flags&0x02 != 0 {
			var b [8]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return err
			}
			size = binary.BigEndian.Uint64(b[:])
		} else {
			b, err := r.ReadByte()
			if err != nil {
				return err
			}
			size = uint64(b)
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		if flags&0x05 == 0 && bytes.HasPrefix(body, heartbeatPrefix) && p.armed.CompareAndSwap(true, false) {
			body = append(body, 0xc0) // a msgpack nil after the message
			p.corrupted <- struct{}{}
		}
		var hdr []byte
		if len(body) > 255 {
			hdr = binary.BigEndian.AppendUint64([]byte{flags | 0x02}, uint64(len(body)))
		} else {
			hdr = []byte{flags &^ 0x02, byte(len(body))}
		}
		if _, err := dst.Write(append(hdr, body...)); err != nil {
			return err
		}
	}
}

// TestNewestMasterReconnect: a master that cannot decode a frame from a worker it knows
// sends it "reconnect" (2.12.1 sends it to the sender of the message before, here the
// same worker). The zkload worker opens a new connection with the same identity and
// carries on: no second client_ready (the master still knows it), its users keep
// running, and no request is lost.
func TestNewestMasterReconnect(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL, StopTimeout: time.Second})
		proxy := startZMTPProxy(t, m.MasterPort)
		w := testenv.StartProcess(t, zkloadBin, []string{"worker", "--master-host", "127.0.0.1",
			"--master-port", fmt.Sprint(proxy.port()), "-L", "DEBUG", "Http"}, nil)
		m.WaitReadyWorkers(1, 20*time.Second)
		m.Swarm(2, 2, "")
		w.WaitLog(`spawned users.*counts=map\[Http:2\]`, 20*time.Second)
		servedMore(t, target, 0, 50)

		mark, mmark := w.Mark(), m.Mark()
		proxy.armed.Store(true)
		select {
		case <-proxy.corrupted:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker sent no heartbeat through the proxy")
		}
		m.WaitLogAfter(mmark, `RPCError when receiving from client: ZMQ interrupted or corrupted message`, 10*time.Second)
		w.WaitLogAfter(mark, `master asked to reconnect`, 10*time.Second)
		w.WaitLogAfter(mark, `reconnecting to master`, 10*time.Second)
		w.WaitLogAfter(mark, `connected to master`, 10*time.Second)
		// Heartbeats and stats flow again on the new connection.
		served := target.Total()
		if l.Newer("2.19.0") {
			w.WaitLogCountAfter(w.Mark(), `heartbeat from master`, 2, 10*time.Second)
		}
		servedMore(t, target, served, 50)
		eventually(t, 10*time.Second, func() bool { return m.Stats().Aggregated().NumRequests > served },
			func() string { return "no stats reached the master after the reconnect" })

		if lines := w.LogLines(`master lost|sending client_ready.*why=(master lost|connected)`); len(lines) != 1 {
			t.Errorf("want one client_ready (at start), the worker says:\n%s", strings.Join(lines, "\n"))
		}
		if n := w.LogCount(`spawned users`); n != 1 {
			t.Errorf("%d spawns: the users were restarted", n)
		}
		if m.LogContains(`missing`) {
			t.Errorf("the master lost the worker:\n%s", strings.Join(m.LogLines(`missing`), "\n"))
		}

		// Nothing was lost: after a stop, the master counts every request served.
		m.StopTest()
		m.WaitLogAfter(mmark, `reported that it has stopped`, 15*time.Second)
		masterCounts(t, m, target.Total())
		noMasterErrors(t, m)
		m.CheckAlive(10 * time.Second)
	})
}

// TestNewestMasterStopAndQuitCountEveryRequest: what the target served is what the
// master counted, exactly, after the web UI's stop (the workers' reports before their
// client_stopped) and after the master quits on SIGTERM (the workers' final reports
// within the master's half-second).
func TestNewestMasterStopAndQuitCountEveryRequest(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		t.Run("stop", func(t *testing.T) {
			target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
			// A stop timeout lets the users finish the request they are in: one cut off
			// is served but, as in Locust, not a result.
			m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), Host: target.URL, StopTimeout: time.Second})
			w1 := startWorker(t, m)
			w2 := startWorker(t, m)
			m.WaitReadyWorkers(2, 20*time.Second)
			mark := m.Mark()
			m.Swarm(4, 4, "")
			m.WaitLogAfter(mark, `All users spawned: .*\(4 total users\)`, 20*time.Second)
			servedMore(t, target, 0, 500)
			m1, m2 := w1.Mark(), w2.Mark()
			m.StopTest()
			m.WaitLogCountAfter(mark, `reported that it has stopped`, 2, 15*time.Second)
			served := target.Total()
			st := masterCounts(t, m, served)
			if st.Aggregated().NumFailures != 0 {
				t.Errorf("%d failures", st.Aggregated().NumFailures)
			}
			if target.Total() != served {
				t.Errorf("requests after the stop: %d, then %d", served, target.Total())
			}
			readyAfterStop(t, w1, m1)
			readyAfterStop(t, w2, m2)
			noMasterErrors(t, m)
		})
		t.Run("quit", func(t *testing.T) {
			target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
			m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l,
				Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 2,
				Users: 4, SpawnRate: 4, CSVPrefix: "run", Host: target.URL,
			})
			w1 := startWorker(t, m)
			w2 := startWorker(t, m)
			m.WaitLog(`All users spawned: .*\(4 total users\)`, 20*time.Second)
			servedMore(t, target, 0, 500)
			m.Signal(syscall.SIGTERM)
			if code := m.Wait(30 * time.Second); code != 0 {
				t.Errorf("master exit code %d after SIGTERM, want 0", code)
			}
			for _, w := range []*testenv.Proc{w1, w2} {
				if code := w.Wait(10 * time.Second); code != 0 {
					t.Errorf("%s exit code %d, want 0", w.Label, code)
				}
			}
			agg := testenv.CSVAggregated(t, m.CSV("stats"))
			counted := csvInt(t, agg, "Request Count")
			r1, _ := workerReported(t, w1)
			r2, _ := workerReported(t, w2)
			if served := target.Total(); counted != served || r1+r2 != served {
				t.Errorf("target served %d, master counted %d, workers reported %d+%d", served, counted, r1, r2)
			}
			if f := csvInt(t, agg, "Failure Count"); f != 0 {
				t.Errorf("%d failures", f)
			}
			noMasterErrors(t, m)
		})
	})
}
