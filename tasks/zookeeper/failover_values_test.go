package zookeeper

import (
	"testing"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/record"
)

// TestSessionsLostAndSuccessGaps: Set users cut off from a live server (a proxy drops
// their connections) until the server expires their sessions record, once each, a lost
// session, and when they are let through again and set with new sessions, each
// records how long it went without a successful set: at least the cut, which the
// users' think time (none here) cannot explain.
func TestSessionsLostAndSuccessGaps(t *testing.T) {
	const users = 2
	e := zktest.Start(t, 1)
	p := startProxy(t, e.Servers()[0])
	classes := Workload{Logger: quietLog()}.Classes(layers(map[string]string{"hosts": p.addr(), "session-timeout": "1", "pseudo-root": "/gaps"}))
	h := newHarness(t, []*boomer.UserClass{classByName(classes, "Set")}, "", nil)
	h.users.SetTargets(map[string]int{"Set": users})
	set, gap, lost := key{"set", "set"}, key{record.SuccessGapPrefix + "set", "set"}, key{record.SessionLost, "set"}
	waitFor := func(d time.Duration, ok func() bool) bool {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if ok() {
				return true
			}
		}
		return ok()
	}
	if !waitFor(30*time.Second, func() bool { return h.ext.count(set) > 1000 }) {
		t.Fatalf("the users did not set: %d sets", h.ext.count(set))
	}
	// The users set back to back: a gap before the cut is a stall of the test machine
	// at most (rare: the bar is record.SuccessGapMin), never a second.
	if n, g := h.ext.count(gap), h.ext.max(gap); g >= 1000 {
		t.Errorf("%d gaps recorded before the cut, the longest %.1f ms, want none near a second", n, g)
	}
	server := e.Servers()[0]
	// A success just before the cut bounds every user's gap: none began before it
	// (on a loaded machine a user may have waited a while before the cut too).
	n0 := h.ext.count(set)
	if !waitFor(10*time.Second, func() bool { return h.ext.count(set) > n0 }) {
		t.Fatalf("the users stopped setting before the cut")
	}
	g0 := h.ext.count(gap) // gaps of the machine's own stalls before the cut
	cut := time.Now()
	p.block()
	if !waitFor(10*time.Second, func() bool { return sessions(server) == 0 }) {
		t.Fatalf("the server still tracks %d sessions 10 s after the users were cut off", sessions(server))
	}
	p.unblock()
	if !waitFor(30*time.Second, func() bool { return h.ext.count(gap) >= g0+users && h.ext.count(lost) >= users }) {
		t.Fatalf("after the cut: %d gaps, %d lost sessions; want %d of each", h.ext.count(gap), h.ext.count(lost), users)
	}
	cutFor := time.Since(cut)
	stopPromptly(t, h)
	if n := h.ext.count(lost); n != users {
		t.Errorf("%d lost sessions recorded, want %d (one each)", n, users)
	}
	if g := h.ext.max(gap); g < float64(time.Second/time.Millisecond) || g > float64((cutFor+100*time.Millisecond)/time.Millisecond) {
		t.Errorf("longest time without a set %.0f ms, want at least the session timeout (1 s) and at most the %v since a set just before the cut", g, cutFor)
	}
}
