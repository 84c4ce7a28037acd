package zookeeper

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zkload/zkload/pyfmt"
	"github.com/zkload/zkload/setting"
)

// Locustfile returns the locustfile lines that declare the ZooKeeper settings as custom
// arguments of the master: they show in its web UI, and reach workers in
// parsed_options. It is "" when classes holds no ZooKeeper class.
//
// The settings given as flags (l.Flags, which Check has validated) become the master's
// defaults: each custom argument's default ("" otherwise, meaning "not set by the
// master"), --bench-NAME a custom argument --zk-bench-NAME, and --hosts, which has no
// master option (the master's Host carries the ensemble), the Host's default
// (zk://HOSTS) unless the master is given -H. A secret (--digest, --sasl-options) is
// refused: the master would hand it to every worker in the clear. So is a ZooKeeper
// flag when classes holds no ZooKeeper class, as nothing would carry it.
func (Workload) Locustfile(classes []string, l setting.Layers) (string, error) {
	zkClasses := map[string]bool{}
	for _, ts := range TaskSets() {
		zkClasses[ts.Class] = true
	}
	found := false
	for _, c := range classes {
		found = found || zkClasses[c]
	}
	table := settingsTable()
	var bench []string // the --bench-NAME flags given, sorted
	for k := range l.Flags {
		if name, ok := strings.CutPrefix(k, benchFlag); ok && name != "" {
			bench = append(bench, k)
		}
	}
	sort.Strings(bench)
	given := func(flag string) (string, bool) { v, ok := l.Flags[flag]; return v, ok }
	for _, e := range table {
		if _, ok := given(e.Flag); !ok {
			continue
		}
		if e.Secret {
			return "", fmt.Errorf("--%s: a secret never goes into the locustfile (the master would send it to every worker in the clear); give it to each worker (--%s or %s)", e.Flag, e.Flag, e.Env)
		}
		if !found {
			return "", fmt.Errorf("--%s: no ZooKeeper user class in the locustfile to take it; name one (e.g. Get) or give the setting to the workers", e.Flag)
		}
	}
	if len(bench) > 0 && !found {
		return "", fmt.Errorf("--%s: no ZooKeeper user class in the locustfile to take it; name one (e.g. Get) or give the setting to the workers", bench[0])
	}
	if !found {
		return "", nil
	}
	var b strings.Builder
	b.WriteString(`

# ZooKeeper settings as custom arguments: set them on the master's command line, in its
# environment or in its web UI, and every zkload worker gets them (a worker's own flag or
# environment variable wins). Empty means "not set": the worker's default applies. The
# ensemble is the Host field (-H zk://host:port,host:port/chroot).
from locust import events


@events.init_command_line_parser.add_listener
def _zkload_zookeeper_arguments(parser):
`)
	if hosts, ok := given("hosts"); ok {
		b.WriteString("    # zkload locustfile --hosts: the ensemble, unless the master is given -H.\n")
		fmt.Fprintf(&b, "    parser.set_defaults(host=%s)\n", pyfmt.Repr("zk://"+strings.TrimPrefix(hosts, "zk://")))
	}
	for _, e := range table {
		if e.Option == "" || e.Secret {
			continue
		}
		help := e.Help
		if e.Default != "" {
			help += " (worker default: " + e.Default + ")"
		}
		def := `""`
		if v, ok := given(e.Flag); ok {
			def = pyfmt.Repr(v)
		}
		fmt.Fprintf(&b, "    parser.add_argument(%q, type=str, default=%s, env_var=%q,\n        help=%q)\n",
			"--"+strings.ReplaceAll(e.Option, "_", "-"), def, e.Env, help)
	}
	for _, k := range bench {
		n := NormalizeBenchName(strings.TrimPrefix(k, benchFlag))
		s := benchNamed(n)
		fmt.Fprintf(&b, "    parser.add_argument(%q, type=str, default=%s, env_var=%q,\n        help=%q)\n",
			"--"+strings.ReplaceAll(s.Option, "_", "-"), pyfmt.Repr(l.Flags[k]), s.Env, "open-ended setting --"+k+" (zkload locustfile)")
	}
	return b.String(), nil
}
