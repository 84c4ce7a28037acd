package zookeeper

import (
	"strings"
	"testing"

	"github.com/zkload/zkload/tasks"
)

// TestTestsAreTheSuites: Tests gives zk-locust's suite (its Makefile's order, connect
// only when named) and its sequence (the sized task sets, then the others, in list
// order).
func TestTestsAreTheSuites(t *testing.T) {
	all := (Workload{}).Tests()
	if len(all) != len(TaskSets()) {
		t.Fatalf("%d tests for %d task sets", len(all), len(TaskSets()))
	}
	var suite []string
	for _, x := range tasks.DefaultSuite(all) {
		suite = append(suite, x.Label)
	}
	if got := strings.Join(suite, " "); got != "create_and_delete exists_many exists get_children2 get_children get set_and_get set watch" {
		t.Errorf("default suite %s", got)
	}
	var sized, others, named []string
	for _, x := range all {
		switch {
		case x.Suite == 0:
			named = append(named, x.Label+"="+x.Class)
		case x.Sized:
			sized = append(sized, x.Label)
		default:
			others = append(others, x.Label)
		}
	}
	if got := strings.Join(sized, " "); got != "set get set_and_get create_and_delete" {
		t.Errorf("sized tests in sequence order: %s", got)
	}
	if got := strings.Join(others, " "); got != "watch exists exists_many get_children get_children2" {
		t.Errorf("other tests in sequence order: %s", got)
	}
	if got := strings.Join(named, " "); got != "connect=Connect standby=Standby" {
		t.Errorf("tests only run when named: %s", got)
	}
	seen := map[int]bool{}
	for _, ts := range TaskSets() {
		if ts.Suite != 0 && seen[ts.Suite] {
			t.Errorf("%s: suite place %d taken twice", ts.BaseName, ts.Suite)
		}
		seen[ts.Suite] = true
		if ts.setup == nil || len(ts.Tasks) == 0 {
			t.Errorf("%s: no setup or no tasks", ts.BaseName)
		}
		for _, td := range ts.Tasks {
			if td.run == nil || td.Weight <= 0 {
				t.Errorf("%s/%s: no operation or weight %d", ts.BaseName, td.Method, td.Weight)
			}
		}
	}
}

func TestSizeSuffixAndKeyPath(t *testing.T) {
	for n, want := range map[int]string{8: "8_B", 512: "512_B", 1023: "1023_B", 1024: "1.0_KiB", 8192: "8.0_KiB", 1536: "1.5_KiB", 10000: "9.766_KiB"} {
		if got := SizeSuffix(n); got != want {
			t.Errorf("SizeSuffix(%d) = %q, want %q", n, got, want)
		}
	}
	if got := KeyPath("/kl", 8, 42); got != "/kl/c-000042" {
		t.Errorf("KeyPath = %q", got)
	}
	if got := KeyPath("/kl", 3, 1234); got != "/kl/c-1234" {
		t.Errorf("KeyPath does not truncate: %q", got)
	}
	s := &Settings{ValSize: 8192, SizedNames: true}
	names := map[string]string{}
	for _, ts := range TaskSets() {
		names[ts.Class] = ts.Name(s)
	}
	if names["Get"] != "get_8.0_KiB" || names["SetAndGet"] != "set_and_get_8.0_KiB" || names["Watch"] != "watch" {
		t.Errorf("sized names: %v", names)
	}
	s.SizedNames = false
	if n := TaskSets()[0].Name(s); n != "set" {
		t.Errorf("unsized name %q", n)
	}
}
