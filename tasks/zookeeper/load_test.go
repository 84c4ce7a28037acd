package zookeeper

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/internal/zkenv"
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/tasks/openloop"
)

func classByName(cs []*boomer.UserClass, name string) *boomer.UserClass {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestOpenLoopHoldsRate: --rate 1000 over 10 users holds 1000/s within 1% over 4 s,
// measured between two reports once the users run.
func TestOpenLoopHoldsRate(t *testing.T) {
	e := zktest.Start(t, 1)
	classes := Workload{}.Classes(layers(map[string]string{"hosts": e.ConnectString(), "pseudo-root": "/rate", "rate": "1000"}))
	h := newHarness(t, []*boomer.UserClass{classByName(classes, "Get")}, "", nil)
	h.users.SetTargets(map[string]int{"Get": 10})
	time.Sleep(1500 * time.Millisecond)
	h.rec.Report()
	late0 := h.ext.count(lagKey)
	t0 := time.Now()
	time.Sleep(4 * time.Second)
	r := h.rec.Report()
	el := time.Since(t0)
	late := h.ext.count(lagKey) - late0
	tl := newTally()
	tl.add(r)
	got := float64(tl.reqs[key{"get", "get"}]) / el.Seconds()
	if float64(late) > 0.1*float64(tl.reqs[key{"get", "get"}]) {
		// The rate is promised "when the server keeps up"; on a machine too loaded to
		// start requests on time, late starts catching up inflate any window's count.
		t.Skipf("machine too loaded to measure the rate: %d of %d starts were late", late, tl.reqs[key{"get", "get"}])
	}
	if math.Abs(got-1000)/1000 > 0.01 {
		t.Errorf("rate %.1f/s, want 1000 within 1%% (late starts: %d)", got, late)
	}
	if n := tl.totalFailures(); n != 0 {
		t.Errorf("%d failures: %v", n, tl.errs)
	}
}

// lagKey is the Get class's schedule lag in the extended statistics.
var lagKey = key{openloop.ScheduleLag, "get"}

// TestOpenLoopMeasuresFromPlannedStart: when the server stalls, the open loop's
// latencies include the time requests waited for their turn (no coordinated omission);
// the starts made late are in the extended statistics as schedule lag, and the Locust
// stats count operations only: every request they count is a get the users made.
func TestOpenLoopMeasuresFromPlannedStart(t *testing.T) {
	e := zktest.Start(t, 1)
	classes := Workload{}.Classes(layers(map[string]string{"hosts": e.ConnectString(), "pseudo-root": "/co", "rate": "200"}))
	h := newHarness(t, []*boomer.UserClass{classByName(classes, "Get")}, "", nil)
	h.users.SetTargets(map[string]int{"Get": 2})
	time.Sleep(time.Second)
	// Stall the server for 500 ms (SIGSTOP), as wrk2's ^Z demo does.
	pid := e.Members()[0].Pid()
	stall(t, pid, 500*time.Millisecond)
	time.Sleep(time.Second)
	got := h.run(nil, 0)
	g := key{"get", "get"}
	if got.maxMS[g] < 400 {
		t.Errorf("max get latency %.1f ms across a 500 ms stall: the stall is hidden", got.maxMS[g])
	}
	if n := h.ext.count(lagKey); n == 0 {
		t.Errorf("no schedule lag recorded across a 500 ms stall with 2 users at 200/s")
	} else if h.ext.max(lagKey) < 200 {
		t.Errorf("largest schedule lag %.1f ms across a 500 ms stall with 2 users at 200/s", h.ext.max(lagKey))
	}
	for k, n := range got.reqs {
		if k != g {
			t.Errorf("Locust stats hold %d %s %s: want gets only", n, k.method, k.name)
		}
	}
	if ops := h.ext.count(g); got.reqs[g] != ops {
		t.Errorf("Locust stats count %d requests, the users made %d gets", got.reqs[g], ops)
	}
}

// TestPipelining: one session with --outstanding 8 keeps several requests in flight:
// the server sees more than one outstanding request at a time and the session does
// more than with one in flight.
func TestPipelining(t *testing.T) {
	e := zktest.Start(t, 1)
	rate := func(outstanding string) float64 {
		classes := Workload{}.Classes(layers(map[string]string{"hosts": e.ConnectString(), "pseudo-root": "/pipe", "outstanding": outstanding}))
		h := newHarness(t, []*boomer.UserClass{classByName(classes, "Get"), classByName(classes, "Watch")}, "", nil)
		got := h.run(map[string]int{"Get": 1, "Watch": 1}, 2*time.Second)
		if n := got.totalFailures(); n != 0 {
			t.Errorf("outstanding %s: %d failures: %v", outstanding, n, got.errs)
		}
		if got.reqs[key{"watch", "watch"}] == 0 {
			t.Errorf("outstanding %s: no watch", outstanding)
		}
		return float64(got.reqs[key{"get", "get"}]) / 2
	}
	one, eight := rate("1"), rate("8")
	t.Logf("get/s with 1 in flight: %.0f, with 8: %.0f", one, eight)
	if eight < 1.3*one {
		t.Errorf("8 in flight gave %.0f/s, 1 in flight %.0f/s: no pipelining", eight, one)
	}
}

// TestSessionExpiryRecovers: when a user's session expires, its requests fail with
// ZooKeeper's error, and it goes on with a new session and new ephemeral nodes.
//
// Under -race it runs CreateAndDelete (its own ephemeral nodes, no watch) instead of
// Watch: go-zookeeper v1.0.4 re-registers watches on a reconnect (sendSetWatches)
// while its receive loop writes the same field (lastZxid) unsynchronized, a race in
// the library itself (go-zookeeper/zk pull request #35, never merged) that the
// detector reports now and then when the stalled server lets a client reconnect
// before it expires the session.
func TestSessionExpiryRecovers(t *testing.T) {
	e := zktest.Start(t, 1)
	class, method := "Watch", key{"watch", "watch"}
	if raceDetector {
		class, method = "CreateAndDelete", key{"create_ephemeral", "create_and_delete"}
	}
	classes := Workload{}.Classes(layers(map[string]string{"hosts": e.ConnectString(), "pseudo-root": "/exp", "session-timeout": "1"}))
	h := newHarness(t, []*boomer.UserClass{classByName(classes, class)}, "", nil)
	h.users.SetTargets(map[string]int{class: 2})
	time.Sleep(time.Second)
	stall(t, e.Members()[0].Pid(), 3*time.Second) // longer than the session timeout: sessions expire
	time.Sleep(3 * time.Second)
	h.rec.Report() // drop what happened around the outage
	time.Sleep(time.Second)
	got := h.run(nil, 0)
	if n := got.reqs[method]; n == 0 {
		t.Fatalf("no %s requests after the sessions expired: %v", method, got.errs)
	}
	if f := got.totalFailures(); f != 0 {
		t.Errorf("%d failures after recovery: %v", f, got.errs)
	}
}

// TestSASLAndDigestACL: with SASL DIGEST-MD5 and a digest identity, sessions
// authenticate and created znodes carry the creator-only ACL.
func TestSASLAndDigestACL(t *testing.T) {
	e := zktest.StartOptions(t, zkenv.Options{DigestUsers: map[string]string{"bench": "s3cret"}})
	flags := map[string]string{"hosts": e.ConnectString(), "pseudo-root": "/auth",
		"sasl-options": `{"mechanism":"DIGEST-MD5","username":"bench","password":"s3cret"}`, "digest": "bench:pw"}
	classes := Workload{}.Classes(layers(flags))
	h := newHarness(t, []*boomer.UserClass{classByName(classes, "Set")}, "", nil)
	got := h.run(map[string]int{"Set": 2}, time.Second)
	if got.reqs[key{"set", "set"}] == 0 || got.totalFailures() != 0 {
		t.Fatalf("set with SASL: %v, errors %v", got.reqs, got.errs)
	}
	s, err := Resolve(layers(flags), "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := Dial(ctxT(t, 10*time.Second), s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	acl, _, err := conn.GetACL("/auth")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range acl {
		ids = append(ids, a.Scheme+":"+a.ID)
	}
	joined := strings.Join(ids, " ")
	if !strings.Contains(joined, "sasl:bench") || !strings.Contains(joined, "digest:bench:") || strings.Contains(joined, "world:anyone") {
		t.Errorf("ACL of /auth: %s; want the SASL and digest creator", joined)
	}
	// A wrong SASL password does not get a session.
	bad := *s
	bad.SASLPassword = "wrong"
	bad.SessionTimeout = 2 * time.Second
	if c, err := Dial(ctxT(t, 10*time.Second), &bad, nil, nil); err == nil {
		c.Close()
		t.Error("wrong SASL password accepted")
	}
	n, err := Cleanup(ctxT(t, 20*time.Second), s, nil, nil)
	if err != nil || n == 0 {
		t.Errorf("cleanup with credentials: %d, %v", n, err)
	}
	if ok, _, err := conn.Exists("/auth"); err != nil || ok {
		t.Errorf("/auth still there after cleanup: %v %v", ok, err)
	}
}

func TestCleanupRefusesRoot(t *testing.T) {
	for _, root := range []string{"/", "/zookeeper", "/zookeeper/quota"} {
		_, err := Cleanup(context.Background(), &Settings{PseudoRoot: root}, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Errorf("Cleanup(%s) = %v", root, err)
		}
	}
}
