package zookeeper

import (
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/faults"
	"github.com/zkload/zkload/internal/zkenv/zktest"
	"github.com/zkload/zkload/setting"
)

func TestEveryTaskSetAgainstStandalone(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 1)
	classes := Workload{Logger: quietLog()}.Classes(layers(map[string]string{"hosts": e.ConnectString(), "pseudo-root": "/t1"}))
	h := newHarness(t, classes, "", nil)
	targets := map[string]int{}
	for _, c := range classes {
		targets[c.Name] = 2
	}
	got := h.run(targets, 3*time.Second)
	for _, ts := range TaskSets() {
		for _, task := range ts.Tasks {
			if task.Method == "count_children" {
				continue // weight 1 in 201: may not come up in 3 s
			}
			k := key{task.Method, ts.BaseName}
			if ts.Passive {
				k.method = ConnectMethod // all a standby session does on a healthy server
			}
			if got.reqs[k] == 0 {
				t.Errorf("no %s/%s requests", k.method, k.name)
			}
		}
	}
	// Each request type runs its own operation: every get reads a whole 8-byte value
	// (Set's, Get's, or SetAndGet's zero-padded counter), the others read nothing.
	for k, n := range got.reqs {
		want := int64(0)
		switch k.method {
		case "get":
			want = 8 * n
		case "get_children", "get_children2", "count_children":
			continue // the number of children
		}
		if got.length[k] != want {
			t.Errorf("%s/%s: content length %d over %d requests, want %d", k.method, k.name, got.length[k], n, want)
		}
	}
	if n := got.totalFailures(); n != 0 {
		t.Errorf("%d failures: %v", n, got.errs)
	}
	w := key{"watch", "watch"}
	if got.reqs[w] > 0 {
		avg := got.sumMS[w] / float64(got.reqs[w])
		if avg <= 0 || avg > 1000 || got.maxMS[w] > 5000 {
			t.Errorf("watch latency avg %.3f ms, max %.3f ms: not a set-to-notification time", avg, got.maxMS[w])
		}
	}
	t.Logf("requests: %v", got.reqs)
}

// TestNotesSayWhichWaitIsUsed: a --max-wait below --min-wait is said once, naming both
// and what is used; valid or absent values say nothing.
func TestNotesSayWhichWaitIsUsed(t *testing.T) {
	w := Workload{}
	got := w.Notes(layers(map[string]string{"min-wait": "10", "max-wait": "5"}))
	want := "--max-wait 5 is less than --min-wait 10: the think time is 10 ms (as zk-locust, the maximum is at least the minimum)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("notes %q, want [%s]", got, want)
	}
	got = w.Notes(layers(map[string]string{"min-wait": "10"}, "ZK_LOCUST_MAX_WAIT=5"))
	if len(got) != 1 || got[0] != "ZK_LOCUST_MAX_WAIT 5 is less than --min-wait 10: the think time is 10 ms (as zk-locust, the maximum is at least the minimum)" {
		t.Errorf("notes %q, want one naming ZK_LOCUST_MAX_WAIT", got)
	}
	for _, flags := range []map[string]string{{}, {"min-wait": "10"}, {"min-wait": "5", "max-wait": "10"}, {"min-wait": "x", "max-wait": "5"}} {
		if got := w.Notes(layers(flags)); got != nil {
			t.Errorf("Notes(%v) = %q, want none", flags, got)
		}
	}
	s, err := Resolve(layers(map[string]string{"hosts": "h:1", "min-wait": "10", "max-wait": "5"}), "")
	if err != nil || s.MinWait != 10*time.Millisecond || s.MaxWait != 10*time.Millisecond {
		t.Errorf("Resolve: %+v, %v; want 10 ms both, as the note says", s, err)
	}
}

// TestNotesGiveTheStandbyProgram: zk-locust's --bench-wait-disable-ms (its standby's
// leader disable) is answered with the fault program that does it, with its wait, and
// that program parses.
func TestNotesGiveTheStandbyProgram(t *testing.T) {
	w := Workload{}
	for _, c := range []struct {
		l    setting.Layers
		name string
	}{
		{layers(map[string]string{"bench-wait-disable-ms": "15000"}), "--bench-wait-disable-ms"},
		{layers(nil, "ZK_LOCUST_BENCH_WAIT_DISABLE_MS=15000"), "ZK_LOCUST_BENCH_WAIT_DISABLE_MS"},
	} {
		got := w.Notes(c.l)
		want := c.name + ` 15000: zk-locust's standby disabled the leader once after this wait; zkload users never disable members: ` +
			`give the fault dispatcher the program "once / poll_initial_hatch_complete 100 / sleep 15000 / disable_leader" ` +
			`(--dispatch-program, one instruction a line; doc/faults.md)`
		if len(got) != 1 || got[0] != want {
			t.Errorf("notes %q, want [%s]", got, want)
			continue
		}
		_, program, _ := strings.Cut(got[0], `program "`)
		program, _, _ = strings.Cut(program, `"`)
		p, err := faults.ParseProgram(strings.ReplaceAll(program, " / ", "\n"), 3)
		if err != nil || !p.Once || len(p.Steps) != 3 {
			t.Errorf("the note's program %q: %+v, %v", program, p, err)
		}
	}
}
