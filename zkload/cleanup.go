package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zkload/zkload/tasks/zookeeper"
)

func runCleanup(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cleanup", "[options]",
		`Deletes what the ZooKeeper workloads leave behind: the pseudo-root (default /kl)
and everything under it (shared keys c-*, leftover d-* and sequential nodes), and nothing
else. Refuses "/" and /zookeeper. The ensemble and credentials are the workers' settings:
--hosts or ZK_LOCUST_HOSTS, --pseudo-root or ZK_LOCUST_PSEUDO_ROOT, --digest, ...`, stdout, stderr)
	w := zookeeper.Workload{}
	fs.add(w.Name()+groupWorkload, w.Settings()...)
	if err := fs.parseFlagsOnly(args); err != nil {
		return err
	}
	l := fs.layers()
	if err := w.Check(l); err != nil {
		return fs.check(err)
	}
	if v, ok := l.Flags["pseudo-root"]; ok && isRootPath(v) {
		return fs.fail("--pseudo-root %q: refusing to delete the whole tree; want the workloads' pseudo-root, such as /kl", v)
	}
	s, err := zookeeper.Resolve(l, "")
	if err != nil {
		return fs.check(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = zookeeper.Cleanup(ctx, s, stderr, nil)
	return err
}

func isRootPath(p string) bool {
	for _, c := range p {
		if c != '/' && c != ' ' {
			return false
		}
	}
	return true
}
