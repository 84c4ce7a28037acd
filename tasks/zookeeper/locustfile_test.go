package zookeeper

import (
	"os"
	"strings"
	"testing"
)

// TestLocustfileUnchanged: the master's custom options are byte for byte what zkload
// generated before the workload had its own package (testdata/locustfile.golden), and
// absent without a ZooKeeper class.
func TestLocustfileUnchanged(t *testing.T) {
	want, err := os.ReadFile("testdata/locustfile.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got := (Workload{}).Locustfile([]string{"Http", "Get"}); got != string(want) {
		t.Errorf("locustfile lines differ from testdata/locustfile.golden:\n%s", got)
	}
	if got := (Workload{}).Locustfile([]string{"Http"}); got != "" {
		t.Errorf("without a ZooKeeper class: %q", got)
	}
}

func TestSettingsSpecs(t *testing.T) {
	specs := (Workload{}).Settings()
	var flags []string
	for _, s := range specs {
		flags = append(flags, s.Flag)
		if s.Group != "ZooKeeper" {
			t.Errorf("--%s in group %q", s.Flag, s.Group)
		}
		if s.Open {
			continue
		}
		if len(s.EnvAliases) != 1 || s.EnvAliases[0] != strings.Replace(s.Env, "ZK_LOCUST_", "KAZOO_LOCUST_", 1) {
			t.Errorf("--%s env aliases %v", s.Flag, s.EnvAliases)
		}
	}
	want := "hosts pseudo-root min-wait max-wait key-size key-space val-size exception-behavior ignore-connection-down session-timeout digest sasl-options rate outstanding bench-"
	if got := strings.Join(flags, " "); got != want {
		t.Errorf("settings %s\nwant     %s", got, want)
	}
	last := specs[len(specs)-1]
	if !last.Open || last.Env != "ZK_LOCUST_BENCH_" {
		t.Errorf("bench spec %+v", last)
	}
	for _, s := range specs {
		if (s.Flag == "digest" || s.Flag == "sasl-options") != s.Secret {
			t.Errorf("--%s secret %v", s.Flag, s.Secret)
		}
	}
}
