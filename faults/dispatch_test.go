package faults

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// recorded collects a dispatcher's actions, and writes them to a timeline too.
type recorded struct {
	mu      sync.Mutex
	actions []Action
	csv     bytes.Buffer
	tl      *Timeline
}

func newRecorded(t *testing.T) *recorded {
	r := &recorded{}
	tl, err := NewTimeline(&r.csv, false)
	if err != nil {
		t.Fatal(err)
	}
	r.tl = tl
	return r
}

func (r *recorded) add(a Action) {
	r.mu.Lock()
	r.actions = append(r.actions, a)
	r.mu.Unlock()
	r.tl.Add(a)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestLeaderKillElectsAnotherAndQuorumHolds runs a once-program on a real 3-member
// ensemble: the leader is killed and another member leads after a measured election;
// the killed member comes back; a follower is paused (the ensemble keeps its leader);
// a disable is then skipped, as it would leave fewer than a quorum serving; at the end
// of the run the paused member is resumed, and every member serves.
func TestLeaderKillElectsAnotherAndQuorumHolds(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 3)
	prog, err := ParseProgram("once\ndisable_leader\nenable_all\npause_follower\ndisable_follower\n", 3)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorded(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	probe, err := NewProbe(pctx, e.Servers(), quiet())
	pcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	d := &Dispatcher{Members: e, Program: prog, OnAction: rec.add, Log: quiet(), Probe: probe}
	go func() { done <- d.Run(ctx) }()
	deadline := time.After(2 * time.Minute)
	for {
		rec.mu.Lock()
		n := len(rec.actions)
		rec.mu.Unlock()
		if n >= 4 {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("the program did not do its 4 actions within 2 minutes: %d", n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	acts := append([]Action(nil), rec.actions...)
	rec.mu.Unlock()
	// 4 actions, then the restore: a resume.
	if len(acts) != 5 {
		t.Fatalf("%d actions, want 4 and 1 to restore: %+v", len(acts), acts)
	}
	kill, back, pause, skip, resume := acts[0], acts[1], acts[2], acts[3], acts[4]
	if kill.Action != "disable" || kill.Before != Leader || kill.LeaderBefore != kill.Member || kill.LeaderAfter < 0 ||
		kill.LeaderAfter == kill.Member || kill.Election <= 0 || kill.Election > 30*time.Second || kill.Note != "" {
		t.Errorf("leader kill: %+v; want a disable of the leader, another leader after an election of 0-30 s", kill)
	}
	// No write succeeds without a leader: the probe's first one comes after the election
	// (the poll's 10 ms aside).
	if kill.FirstWrite < kill.Election-20*time.Millisecond || kill.FirstWrite > 30*time.Second {
		t.Errorf("leader kill: first write after %v, election %v; want a write after the election, within 30 s", kill.FirstWrite, kill.Election)
	}
	if back.FirstWrite != -1 || pause.FirstWrite < 0 || pause.FirstWrite > 30*time.Second {
		t.Errorf("first writes: enable %v, follower pause %v; want none for an enable, and one for the pause", back.FirstWrite, pause.FirstWrite)
	}
	if back.Action != "enable" || back.Member != kill.Member || back.Before != Down || back.Note != "" || back.Election >= 0 {
		t.Errorf("enable_all: %+v; want the killed member enabled", back)
	}
	if pause.Action != "pause" || pause.Before != Follower || pause.LeaderAfter != kill.LeaderAfter || pause.Note != "" {
		t.Errorf("follower pause: %+v; want a pause of a follower, the leader unchanged", pause)
	}
	if skip.Action != "skip" || !strings.Contains(skip.Note, "below the quorum of 2") {
		t.Errorf("third action: %+v; want it skipped for the quorum", skip)
	}
	if resume.Action != "resume" || resume.Member != pause.Member || resume.Before != Paused || resume.Note != "" {
		t.Errorf("restore: %+v; want the paused member resumed", resume)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	for i := range 3 {
		if err := e.WaitServing(ctx2, i); err != nil {
			t.Errorf("member %d after the run: %v", i, err)
		}
	}
	rows, err := csv.NewReader(&rec.csv).ReadAll()
	if err != nil || len(rows) != 6 || strings.Join(rows[0], ",") != strings.Join(TimelineHeader, ",") {
		t.Fatalf("timeline CSV: %d rows, %v", len(rows), err)
	}
	if rows[1][2] != "disable" || rows[1][9] == "" || rows[1][10] == "" || rows[4][2] != "skip" || rows[4][9] != "" || rows[4][10] != "" || rows[4][11] == "" {
		t.Errorf("timeline rows %q", rows[1:])
	}
}

// TestScriptsGetTheMemberEnvironment: the disable and enable scripts run with
// zk-locust's ZK_MEMBER_* variables for the member acted on; a failing script is an
// action with its error noted; a pause without a pause script says which variable is
// missing.
func TestScriptsGetTheMemberEnvironment(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 1)
	out := filepath.Join(t.TempDir(), "env.txt")
	rec := `echo "$0 $ZK_MEMBER_HOST_AND_PORT $ZK_MEMBER_HOST $ZK_MEMBER_PORT $ZK_MEMBER_STATE" >> ` + out
	s := &Scripts{Members: e.Servers(), DisableScript: strings.Replace(rec, "$0", "disable", 1),
		EnableScript: strings.Replace(rec, "$0", "enable", 1) + "; echo 'enable failed here' >&2; exit 3"}
	prog, err := ParseProgram("once\ndisable 0 force\nenable 0\npause 0 force\n", 1)
	if err != nil {
		t.Fatal(err)
	}
	r := newRecorded(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Dispatcher{Members: s, Program: prog, OnAction: r.add, Log: quiet(), ElectionTimeout: time.Second}).Run(ctx)
	}()
	for {
		r.mu.Lock()
		n := len(r.actions)
		r.mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.Servers()[0])
	// The enable failed, so the end of the run tries it once more (the restore).
	want := fmt.Sprintf("disable %[1]s:%[2]s %[1]s %[2]s standalone\n"+strings.Repeat("enable %[1]s:%[2]s %[1]s %[2]s standalone\n", 2), host, port)
	if string(b) != want {
		t.Errorf("the scripts saw:\n%s\nwant:\n%s", b, want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if a := r.actions[1]; a.Action != "enable" || !strings.Contains(a.Note, "exit status 3: enable failed here") {
		t.Errorf("failing enable: %+v", a)
	}
	if a := r.actions[2]; a.Action != "pause" || !strings.Contains(a.Note, "ZK_DISPATCH_PAUSE_SCRIPT is not set") {
		t.Errorf("pause without a script: %+v", a)
	}
}

// TestRandomDispatcherKeepsAQuorum runs zk-locust's random dispatcher, with short
// sleeps, on a real 3-member ensemble until it brought three members back: it disables
// and enables members over and over, never more than one at once (a quorum of 2 stays up), and leaves every
// member serving.
func TestRandomDispatcherKeepsAQuorum(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 3)
	var mu sync.Mutex
	out := map[int]bool{}
	most, disables, enables := 0, 0, 0
	// Until three members came back (at most 2 minutes): on a loaded machine a JVM
	// takes a while to start, and a fixed time saw one round only.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := &Dispatcher{Members: e, Log: quiet(),
		Random: RandomConfig{Sleep: 200 * time.Millisecond, SleepAfterDisable: 300 * time.Millisecond, SleepAfterEnable: 200 * time.Millisecond},
		OnAction: func(a Action) {
			mu.Lock()
			defer mu.Unlock()
			if a.Note != "" {
				t.Errorf("action %+v failed", a)
			}
			switch a.Action {
			case "disable":
				out[a.Member] = true
				disables++
			case "enable":
				delete(out, a.Member)
				enables++
				if enables >= 3 {
					cancel()
				}
			}
			most = max(most, len(out))
		}}
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if disables < 3 || enables < disables-1 || most != 1 || len(out) != 0 {
		t.Errorf("%d disables, %d enables, at most %d out at once, %d out at the end; want several, at most 1 (quorum 2 of 3), none",
			disables, enables, most, len(out))
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	for i := range 3 {
		if err := e.WaitServing(wctx, i); err != nil {
			t.Errorf("member %d after the run: %v", i, err)
		}
	}
}
