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
