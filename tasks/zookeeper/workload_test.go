package zookeeper

import (
	"testing"
	"time"

	"github.com/zkload/zkload/internal/zkenv/zktest"
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
