package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/zkload/zkload/tasks/zookeeper"
)

func runCleanup(fs *flagSet, _ []string) error {
	w := zookeeper.Workload{}
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
	_, err = zookeeper.Cleanup(ctx, s, fs.stderr, nil)
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
