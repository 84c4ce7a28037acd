package zookeeper

import (
	"fmt"
	"strings"
)

// Locustfile returns the locustfile lines that declare the ZooKeeper settings as custom
// arguments of the master: they show in its web UI, and reach workers in
// parsed_options. Their defaults are empty, meaning "not set by the master". It is ""
// when classes holds no ZooKeeper class.
func (Workload) Locustfile(classes []string) string {
	zkClasses := map[string]bool{}
	for _, ts := range TaskSets() {
		zkClasses[ts.Class] = true
	}
	found := false
	for _, c := range classes {
		found = found || zkClasses[c]
	}
	if !found {
		return ""
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
	for _, e := range settingsTable() {
		if e.Option == "" || e.Secret {
			continue
		}
		help := e.Help
		if e.Default != "" {
			help += " (worker default: " + e.Default + ")"
		}
		fmt.Fprintf(&b, "    parser.add_argument(%q, type=str, default=\"\", env_var=%q,\n        help=%q)\n",
			"--"+strings.ReplaceAll(e.Option, "_", "-"), e.Env, help)
	}
	return b.String()
}
