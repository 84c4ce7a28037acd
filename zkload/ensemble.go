package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/zkload/zkload/setting"

	"github.com/zkload/zkload/internal/zkenv"
)

func runEnsemble(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ensemble", "[options]",
		`Runs a local ZooKeeper ensemble from Debian's zookeeper package on free loopback
ports (4-letter words and the AdminServer enabled), for trying zkload or as the
embedded default of "make". It prints "connect: <connect string>" once every member
serves, and stops the members on SIGINT/SIGTERM.`, stdout, stderr)
	fs.add(groupCommon,
		&setting.Spec{Flag: "members", Default: "1", Arg: "N", Help: "number of members: 1 (standalone) or 3", Expect: "1 or 3"},
		&setting.Spec{Flag: "dir", Default: "out/zk", Arg: "DIR", Help: "directory for the members' configs, data and logs"},
		&setting.Spec{Flag: "start-timeout", Default: "60s", Arg: "DURATION", Help: "how long the members may take to serve", Expect: "a positive duration such as 60s"})
	if err := fs.parseFlagsOnly(args); err != nil {
		return err
	}
	members, err := fs.get("members").Int(1, 3)
	if err != nil || members == 2 {
		return fs.check(fs.get("members").Bad())
	}
	dir := fs.text("dir")
	timeout, err := fs.get("start-timeout").Duration()
	if err != nil {
		return fs.check(err)
	}
	if err := zkenv.Available(); err != nil {
		return fmt.Errorf("ZooKeeper is not installed (scripts/setup.sh installs it): %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fs.fail("--dir %q: %v", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fs.fail("--dir %q: %v", dir, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fmt.Fprintf(stdout, "starting %d ZooKeeper member(s) in %s\n", members, abs)
	e, err := zkenv.Start(startCtx, zkenv.Options{Members: members, Dir: abs})
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
