package zkenv_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/fourlw"
	"github.com/zkload/zkload/internal/zkenv"

	"github.com/zkload/zkload/internal/zkenv/zktest"
)

func TestStandalone(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if mode, err := e.Mode(ctx, 0); err != nil || mode != "standalone" {
		t.Fatalf("mode = %q, %v; want standalone", mode, err)
	}
	m, err := e.Mntr(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := strconv.Atoi(m["zk_znode_count"]); err != nil || n < 1 {
		t.Fatalf("zk_znode_count = %q", m["zk_znode_count"])
	}
	body, err := e.Admin(ctx, 0, "ruok")
	if err != nil || !strings.Contains(body, `"error" : null`) {
		t.Fatalf("AdminServer ruok = %q, %v", body, err)
	}
	if got := e.ConnectString(); !strings.HasPrefix(got, "127.0.0.1:") || strings.Contains(got, ",") {
		t.Fatalf("connect string %q", got)
	}
}

func TestEnsembleStopStartMember(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	leader := -1
	for i := range e.Members() {
		mode, err := e.Mode(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		if mode == "leader" {
			leader = i
		} else if mode != "follower" {
			t.Fatalf("member %d mode %q", i+1, mode)
		}
	}
	if leader < 0 {
		t.Fatal("no leader")
	}
	if err := e.StopMember(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if e.Members()[leader].Running() {
		t.Fatal("stopped member still running")
	}
	if _, err := fourlw.Ask(ctx, e.Members()[leader].Addr(), "ruok"); err == nil {
		t.Fatal("stopped member still answers")
	}
	// The two others elect a new leader and serve.
	other := (leader + 1) % 3
	if err := e.WaitServing(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := e.StartMember(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if mode, err := e.Mode(ctx, leader); err != nil || (mode != "follower" && mode != "leader") {
		t.Fatalf("restarted member mode %q, %v", mode, err)
	}
}

// TestPartitionMember: the leader cut off from the others stops serving (it has no
// quorum) while its client port still answers, the two others elect a leader of their
// own, and after the heal the cut member serves again, as a follower.
func TestPartitionMember(t *testing.T) {
	t.Parallel()
	if err := zkenv.PartitionsAvailable(); err != nil {
		t.Skipf("partitions: %v", err)
	}
	e := zktest.StartOptions(t, zkenv.Options{Members: 3, Partitions: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	leader := -1
	for i := range e.Members() {
		if mode, _ := e.Mode(ctx, i); mode == "leader" {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader")
	}
	if err := e.PartitionMember(ctx, leader); err != nil {
		t.Fatal(err)
	}
	// Another leader, and the cut one out of service but reachable.
	waitFor(ctx, t, "another leader, the cut member not serving", func() bool {
		cut, _ := fourlw.Ask(ctx, e.Members()[leader].Addr(), "srvr")
		for i := range e.Members() {
			if mode, _ := e.Mode(ctx, i); i != leader && mode == "leader" {
				return strings.Contains(cut, "not currently serving")
			}
		}
		return false
	})
	if !e.Members()[leader].Running() {
		t.Fatal("the cut member's process is gone")
	}
	if err := e.HealMember(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitServing(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if mode, err := e.Mode(ctx, leader); err != nil || mode != "follower" {
		t.Fatalf("healed member: mode %q, %v; want follower (another leads now)", mode, err)
	}
	if err := e.HealMember(ctx, leader); err != nil {
		t.Errorf("a second heal: %v; want none", err)
	}
}

func waitFor(ctx context.Context, t *testing.T, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
