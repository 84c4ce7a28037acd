package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zkload/zkload/boomer/wire"
)

// miniWorker is just enough of a Locust worker, over a real ZeroMQ DEALER, to drive
// the master in testenv's own tests: client_ready -1, heartbeats every second with the
// right state, spawning/spawning_complete with the targets, stats on demand, stop and
// quit handling. One goroutine owns the socket.
type miniWorker struct {
	t      *testing.T
	id     string
	report chan wire.StatsReport
	done   chan struct{}

	mu       sync.Mutex
	received []wire.Message
	host     string
	users    map[string]int
}

func startMiniWorker(t *testing.T, endpoint string) *miniWorker {
	var b [16]byte
	rand.Read(b[:])
	w := &miniWorker{t: t, id: "miniworker_" + hex.EncodeToString(b[:]), report: make(chan wire.StatsReport, 8),
		done: make(chan struct{}), users: map[string]int{}}
	sock, err := zmq.NewSocket(zmq.DEALER)
	if err != nil {
		t.Fatal(err)
	}
	sock.SetLinger(time.Second)
	sock.SetIdentity(w.id)
	if err := sock.Connect(endpoint); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	go w.loop(sock, stop)
	t.Cleanup(func() {
		close(stop)
		<-w.done
	})
	return w
}

func (w *miniWorker) loop(sock *zmq.Socket, stop chan struct{}) {
	defer close(w.done)
	defer sock.Close()
	send := func(typ string, data any) {
		b, err := wire.Encode(wire.Message{Type: typ, Data: data, NodeID: w.id})
		if err == nil {
			_, err = sock.SendBytes(b, zmq.DONTWAIT)
		}
		if err != nil {
			w.t.Logf("miniworker: send %s: %v", typ, err)
		}
	}
	state := "ready"
	send(wire.TypeClientReady, wire.ClientReadyVersion)
	poller := zmq.NewPoller()
	poller.Add(sock, zmq.POLLIN)
	nextBeat := time.Now()
	counts := func() map[string]int {
		w.mu.Lock()
		defer w.mu.Unlock()
		c := map[string]int{}
		for k, v := range w.users {
			c[k] = v
		}
		return c
	}
	for {
		select {
		case <-stop:
			return
		case r := <-w.report:
			r.UserClassesCount = counts()
			send(wire.TypeStats, r)
		default:
		}
		if time.Now().After(nextBeat) {
			send(wire.TypeHeartbeat, wire.Heartbeat{State: state, CurrentCPUUsage: 1.5, CurrentMemoryUsage: 1 << 20})
			nextBeat = time.Now().Add(time.Second)
		}
		polled, err := poller.Poll(20 * time.Millisecond)
		if err != nil || len(polled) == 0 {
			continue
		}
		frame, err := sock.RecvBytes(0)
		if err != nil {
			continue
		}
		m, err := wire.Decode(frame)
		if err != nil {
			w.t.Errorf("miniworker: undecodable frame from the master %x: %v", frame, err)
			continue
		}
		w.mu.Lock()
		w.received = append(w.received, m)
		w.mu.Unlock()
		switch m.Type {
		case wire.TypeSpawn:
			s, err := wire.ParseSpawn(m.Data)
			if err != nil {
				w.t.Errorf("miniworker: %v", err)
				continue
			}
			send(wire.TypeSpawning, nil)
			total := 0
			w.mu.Lock()
			w.host = s.Host
			w.users = s.UserClassesCount
			for _, n := range s.UserClassesCount {
				total += n
			}
			w.mu.Unlock()
			state = "running"
			send(wire.TypeSpawningComplete, wire.SpawningComplete{UserClassesCount: s.UserClassesCount, UserCount: total})
		case wire.TypeStop:
			w.mu.Lock()
			for k := range w.users {
				w.users[k] = 0
			}
			w.mu.Unlock()
			send(wire.TypeClientStopped, nil)
			state = "ready"
			send(wire.TypeClientReady, wire.ClientReadyVersion)
		case wire.TypeQuit:
			send(wire.TypeStats, wire.StatsReport{StatsTotal: wire.StatsEntry{Name: "Aggregated", StartTime: now()}, UserClassesCount: counts()})
			send(wire.TypeQuit, nil)
			<-stop
			return
		}
	}
}

func now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

func (w *miniWorker) count(typ string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.received {
		if m.Type == typ {
			n++
		}
	}
	return n
}

func (w *miniWorker) waitFor(typ string, n int, timeout time.Duration) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for w.count(typ) < n {
		if time.Now().After(deadline) {
			w.t.Fatalf("miniworker received %d %s messages within %v, want %d", w.count(typ), typ, timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sendRequests reports n GET /x requests of 10 ms, failures of them failed.
func (w *miniWorker) sendRequests(n, failures int64) {
	ts := now()
	sec := int64(ts)
	e := wire.StatsEntry{Name: "/x", Method: "GET", LastRequestTimestamp: &ts, StartTime: ts - 1,
		NumRequests: n, NumFailures: failures, TotalResponseTime: float64(10 * n), MaxResponseTime: 10,
		MinResponseTime: func() *float64 { v := 10.0; return &v }(), TotalContentLength: 5 * n,
		ResponseTimes: map[int64]int64{10: n}, NumReqsPerSec: map[int64]int64{sec: n},
		NumFailPerSec: map[int64]int64{}}
	if failures > 0 {
		e.NumFailPerSec[sec] = failures
	}
	total := e
	total.Name, total.Method = "Aggregated", ""
	errs := map[string]wire.StatsError{}
	if failures > 0 {
		msg := "HTTPError('500 Server Error: boom')"
		errs[wire.ErrorKey("GET", "/x", msg)] = wire.StatsError{Name: "/x", Method: "GET", Error: msg, Occurrences: failures, FirstSeen: ts, LastSeen: ts}
	}
	w.report <- wire.StatsReport{Stats: []wire.StatsEntry{e}, StatsTotal: total, Errors: errs}
}

// TestMasterWebUI drives a real master through its web UI with one mini worker: start,
// stats, stop, a restart on the same ports, SIGTERM.
func TestMasterWebUI(t *testing.T) {
	RequireLocust(t)
	m := StartMaster(t, MasterOptions{Classes: []Class{{Name: "UserA", Weight: 3}, {Name: "UserB", Weight: 1}}})
	if m.WebPort == 0 || m.MasterPort == 0 || m.Runs != 1 {
		t.Fatalf("ports %d/%d runs %d", m.MasterPort, m.WebPort, m.Runs)
	}
	ls, err := Listeners(m.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 {
		t.Errorf("master listens on %v, want exactly the worker and web ports", ls)
	}
	for _, l := range ls {
		if !strings.HasPrefix(l.String(), "127.0.0.1:") {
			t.Errorf("master listens on %v", l)
		}
	}
	if s := m.Stats(); s.State != "ready" || s.UserCount != 0 || len(s.Workers) != 0 {
		t.Errorf("fresh master: %+v", s)
	}
	m.CheckAlive(10 * time.Second)

	w := startMiniWorker(t, m.Endpoint())
	m.WaitReadyWorkers(1, 10*time.Second)
	w.waitFor(wire.TypeAck, 1, 5*time.Second)
	mark := m.Mark()
	m.Swarm(4, 4, "http://127.0.0.1:1")
	m.WaitLogAfter(mark, `All users spawned: .*"UserA": 3.*"UserB": 1.*\(4 total users\)`, 15*time.Second)
	w.mu.Lock()
	host := w.host
	w.mu.Unlock()
	if host != "http://127.0.0.1:1" {
		t.Errorf("spawn host = %q", host)
	}
	w.sendRequests(20, 5)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := m.Stats()
		agg := s.Aggregated()
		if agg.NumRequests == 20 && agg.NumFailures == 5 && s.UserCount == 4 && s.State == "running" {
			if len(s.Workers) != 1 || s.Workers[0].ID != w.id || s.Workers[0].UserCount != 4 {
				t.Errorf("workers: %+v", s.Workers)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web stats never showed 20 requests, 5 failures, 4 users, running: %+v", s)
		}
		time.Sleep(200 * time.Millisecond)
	}
	m.StopTest()
	w.waitFor(wire.TypeStop, 1, 10*time.Second)
	m.WaitLog(`reported that it has stopped`, 10*time.Second)
	m.WaitReadyWorkers(1, 10*time.Second)
	m.CheckAlive(10 * time.Second)

	oldPid := m.Pid()
	m.Restart()
	if m.Pid() == oldPid || m.Runs != 2 || !strings.HasSuffix(m.LogPath, "master-2.log") {
		t.Errorf("after Restart: pid %d (was %d), runs %d, log %s", m.Pid(), oldPid, m.Runs, m.LogPath)
	}
	// The mini worker's DEALER reconnects by itself and keeps heartbeating; the new
	// master ignores an unknown worker's heartbeat, but its check_stopped() then flips
	// an idle master from "ready" to "stopped" (2.12.1 behaviour).
	if s := m.Stats(); (s.State != "ready" && s.State != "stopped") || len(s.Workers) != 0 {
		t.Errorf("restarted master: %+v", s)
	}
	m.CheckAlive(10 * time.Second)

	m.Signal(syscall.SIGTERM)
	if code := m.Wait(20 * time.Second); code != 0 {
		t.Errorf("master exit code %d after SIGTERM", code)
	}
	m.WaitLog(`Shutting down \(exit code 0\)`, time.Second)
}

// TestMasterHeadless runs a headless timed test with one mini worker and checks the
// master's exit code and CSV files.
func TestMasterHeadless(t *testing.T) {
	RequireLocust(t)
	m := StartMaster(t, MasterOptions{
		Classes:  []Class{{Name: "UserA", Weight: 1}},
		Headless: true, Users: 2, SpawnRate: 2, RunTime: "4s", ExpectWorkers: 1, CSVPrefix: "run",
		StopTimeout: 3 * time.Second,
	})
	if m.WebPort != 0 || m.WebURL() != "" {
		t.Errorf("headless master has a web port %d", m.WebPort)
	}
	w := startMiniWorker(t, m.Endpoint())
	m.WaitLog(`All users spawned: .*"UserA": 2.*\(2 total users\)`, 15*time.Second)
	w.mu.Lock()
	spawns := 0
	for _, msg := range w.received {
		if msg.Type == wire.TypeSpawn {
			spawns++
			s, _ := wire.ParseSpawn(msg.Data)
			if !s.HasStopTimeout || s.StopTimeout != 3*time.Second || s.Host != "" {
				t.Errorf("spawn: %+v", s)
			}
		}
	}
	w.mu.Unlock()
	if spawns != 1 {
		t.Errorf("got %d spawns for -u 2 -r 2, want 1", spawns)
	}
	w.sendRequests(10, 2)
	if code := m.Wait(20 * time.Second); code != 1 {
		t.Errorf("exit code %d, want 1 (failures were reported)", code)
	}
	w.waitFor(wire.TypeQuit, 1, time.Second)
	agg := CSVAggregated(t, m.CSV("stats"))
	if agg["Request Count"] != "10" || agg["Failure Count"] != "2" || agg["Min Response Time"] != "10.0" {
		t.Errorf("Aggregated row: %v", agg)
	}
	row := CSVRow(t, m.CSV("stats"), "GET", "/x")
	if row["Request Count"] != "10" || row["Average Content Size"] != "5.0" {
		t.Errorf("GET /x row: %v", row)
	}
	fails := CSVRecords(t, m.CSV("failures"))
	if len(fails) != 1 || fails[0]["Occurrences"] != "2" || fails[0]["Error"] != `"HTTPError('500 Server Error: boom')"` {
		t.Errorf("failures: %v", fails)
	}
	hist := ReadCSV(t, m.CSV("stats_history"))
	if len(hist) < 2 || hist[0][0] != "Timestamp" {
		t.Errorf("history: %v", hist)
	}
}
