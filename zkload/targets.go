package main

// The targets zkload brings along for trying it, and for its main job: a local
// ZooKeeper ensemble and a tiny HTTP server.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkload/zkload/faults"
	"github.com/zkload/zkload/internal/zkenv"
)

// ControlFile is the file in an ensemble's directory holding its control URL.
const ControlFile = "control.url"

func runEnsemble(fs *flagSet, _ []string) error {
	stdout := fs.stdout
	members, err := fs.get("members").Int(1, 5)
	if err != nil || members%2 == 0 {
		return fs.check(fs.get("members").Bad())
	}
	dir := fs.text("dir")
	timeout, err := fs.get("start-timeout").Duration()
	if err != nil {
		return fs.check(err)
	}
	partitions, err := fs.get("partitions").Bool()
	if err != nil {
		return fs.check(err)
	}
	if partitions {
		if members == 1 {
			return fs.fail("--partitions: a standalone server has no others to be cut off from; want --members 3 or 5")
		}
		if err := zkenv.PartitionsAvailable(); err != nil {
			return fs.fail("--partitions: %v", err)
		}
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
	e, err := zkenv.Start(startCtx, zkenv.Options{Members: members, Dir: abs, Partitions: partitions})
	if err != nil {
		return fmt.Errorf("start ensemble: %w", err)
	}
	defer e.Close()
	for _, m := range e.Members() {
		fmt.Fprintf(stdout, "member %d: %s, AdminServer %s, log %s\n", m.ID, m.Addr(), m.AdminURL(), m.LogPath())
	}
	// The control endpoint lets a fault program (zkload run/worker --dispatch-control)
	// kill, start, pause, resume, cut off and heal the members this process owns.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("ensemble control: %w", err)
	}
	srv := &http.Server{Handler: faults.ControlHandler(e), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	control := "http://" + ln.Addr().String()
	if err := os.WriteFile(filepath.Join(abs, ControlFile), []byte(control+"\n"), 0o644); err != nil {
		return fmt.Errorf("ensemble control: %w", err)
	}
	fmt.Fprintf(stdout, "control: %s\n", control)
	fmt.Fprintf(stdout, "connect: %s\n", e.ConnectString())
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the ensemble")
	return e.Close()
}

func runServe(fs *flagSet, _ []string) error {
	stdout := fs.stdout
	listen := fs.text("listen")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fs.fail("--listen %q: %v", listen, err)
	}
	var served atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, "ok\n")
	})}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintf(stdout, "served %d requests\n", served.Load())
	return nil
}
