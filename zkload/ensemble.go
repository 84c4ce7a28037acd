package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/zkload/zkload/internal/zkenv"
)

func runEnsemble(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ensemble", "[flags]",
		`Runs a local ZooKeeper ensemble from Debian's zookeeper package on free loopback
ports (4-letter words and the AdminServer enabled), for trying zkload or as the
embedded default of "make". It prints "connect: <connect string>" once every member
serves, and stops the members on SIGINT/SIGTERM.`, stdout, stderr)
	members := fs.Int("members", 1, "number of members: 1 (standalone) or 3")
	dir := fs.String("dir", "out/zk", "directory for the members' configs, data and logs")
	timeout := fs.Duration("start-timeout", 60*time.Second, "how long the members may take to serve")
	if _, err := fs.parse(args); err != nil {
		return err
	}
	if *members != 1 && *members != 3 {
		return fs.fail("--members %d: want 1 or 3", *members)
	}
	if err := zkenv.Available(); err != nil {
		return fmt.Errorf("ZooKeeper is not installed (scripts/setup.sh installs it): %w", err)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return fs.fail("--dir %q: %v", *dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fs.fail("--dir %q: %v", *dir, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	fmt.Fprintf(stdout, "starting %d ZooKeeper member(s) in %s\n", *members, abs)
	e, err := zkenv.Start(startCtx, zkenv.Options{Members: *members, Dir: abs})
	if err != nil {
		return fmt.Errorf("start ensemble: %w", err)
	}
	defer e.Close()
	for _, m := range e.Members() {
		fmt.Fprintf(stdout, "member %d: %s, AdminServer %s, log %s\n", m.ID, m.Addr(), m.AdminURL(), m.LogPath())
	}
	fmt.Fprintf(stdout, "connect: %s\n", e.ConnectString())
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the ensemble")
	return e.Close()
}
