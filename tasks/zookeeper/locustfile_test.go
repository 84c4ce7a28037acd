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
	none := layers(map[string]string{})
	if got, err := (Workload{}).Locustfile([]string{"Http", "Get"}, none); got != string(want) || err != nil {
		t.Errorf("locustfile lines differ from testdata/locustfile.golden (%v):\n%s", err, got)
	}
	if got, err := (Workload{}).Locustfile([]string{"Http"}, none); got != "" || err != nil {
		t.Errorf("without a ZooKeeper class: %q, %v", got, err)
	}
}

// TestLocustfileTakesTheFlags: the flags given become the master's defaults (--hosts
// its Host's), the rest of the file as without them; a secret, or a flag without a
// ZooKeeper class to take it, is refused in one line that does not show the value.
func TestLocustfileTakesTheFlags(t *testing.T) {
	golden, err := os.ReadFile("testdata/locustfile.golden")
	if err != nil {
		t.Fatal(err)
	}
	l := layers(map[string]string{"val-size": "512", "key-size": "10", "pseudo-root": "/it's", "hosts": "zk://h1:2181,h2:2182/ch", "bench-the-answer": "42"})
	got, err := (Workload{}).Locustfile([]string{"Get"}, l)
	if err != nil {
		t.Fatal(err)
	}
	want := string(golden)
	for _, r := range [][2]string{
		{`def _zkload_zookeeper_arguments(parser):
`, `def _zkload_zookeeper_arguments(parser):
    # zkload locustfile --hosts: the ensemble, unless the master is given -H.
    parser.set_defaults(host='zk://h1:2181,h2:2182/ch')
`},
		{`"--zk-val-size", type=str, default=""`, `"--zk-val-size", type=str, default='512'`},
		{`"--zk-key-size", type=str, default=""`, `"--zk-key-size", type=str, default='10'`},
		{`"--zk-pseudo-root", type=str, default=""`, `"--zk-pseudo-root", type=str, default="/it's"`},
	} {
		if !strings.Contains(want, r[0]) {
			t.Fatalf("golden file lacks %q", r[0])
		}
		want = strings.Replace(want, r[0], r[1], 1)
	}
	want += `    parser.add_argument("--zk-bench-the-answer", type=str, default='42', env_var="ZK_LOCUST_BENCH_THE_ANSWER",
        help="open-ended setting --bench-the-answer (zkload locustfile)")
`
	if got != want {
		t.Errorf("locustfile:\n%s\nwant:\n%s", got, want)
	}
	for _, tc := range []struct {
		flags   map[string]string
		classes []string
		want    string
	}{
		{map[string]string{"digest": "u:secret"}, []string{"Get"}, "--digest: a secret never goes into the locustfile (the master would send it to every worker in the clear); give it to each worker (--digest or ZK_LOCUST_DIGEST)"},
		{map[string]string{"sasl-options": `{"password":"secret"}`}, []string{"Get"}, "--sasl-options: a secret never goes"},
		{map[string]string{"val-size": "512"}, []string{"Http"}, "--val-size: no ZooKeeper user class in the locustfile to take it; name one (e.g. Get) or give the setting to the workers"},
		{map[string]string{"bench-x": "1"}, []string{"Http"}, "--bench-x: no ZooKeeper user class"},
	} {
		_, err := (Workload{}).Locustfile(tc.classes, layers(tc.flags))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "secret\"") || strings.Contains(err.Error(), ":secret") {
			t.Errorf("Locustfile(%v, %v): %v; want %s", tc.classes, tc.flags, err, tc.want)
		}
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
