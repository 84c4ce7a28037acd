package main

import (
	"context"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/zkload/zkload/fourlw"

	"github.com/zkload/zkload/stats/ensemble"
)

// versions returns zkload's, Go's, Locust's (when probeLocust) and ZooKeeper's versions
// (from srvr on the ensemble's members, when reachable).
func versions(connect string, probeLocust bool) map[string]string {
	v := map[string]string{"zkload": zkloadVersion(), "go": runtime.Version(), "locust": "", "zookeeper": ""}
	locust := make(chan string, 1)
	go func() {
		if probeLocust {
			locust <- locustVersion()
		} else {
			locust <- ""
		}
	}()
	v["zookeeper"] = zookeeperVersion(connect)
	v["locust"] = <-locust
	return v
}

// version is set by the Makefile's build: -ldflags "-X main.version=$(git describe ...)".
var version string

// zkloadVersion is the version the build was stamped with (git describe), else the
// module version, else the VCS revision the binary was built
// from (+dirty for uncommitted changes), else "dev".
func zkloadVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "+dirty"
	}
	return rev
}

// locustVersion is `locust --version`'s output ("locust 2.x.y"; Debian's 2.12.1 prints
// an empty version), or "" without Locust.
func locustVersion() string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "locust", "--version").Output()
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(out))
	if s == "locust" {
		return ""
	}
	return strings.TrimSpace(strings.TrimPrefix(s, "locust "))
}

var zkVersionRx = regexp.MustCompile(`(?m)^Zookeeper version: ([^,\s]+)`)

// zookeeperVersion asks the ensemble's members for srvr (whitelisted by default) and
// returns the first version one gives, or "".
func zookeeperVersion(connect string) string {
	connect = strings.TrimSpace(connect)
	if connect == "" {
		return ""
	}
	members, err := ensemble.Members(connect, nil, nil)
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, m := range members {
		b, err := fourlw.Ask(ctx, m.HostPort, "srvr")
		if err != nil {
			continue
		}
		if m := zkVersionRx.FindStringSubmatch(b); m != nil {
			return m[1]
		}
	}
	return ""
}
