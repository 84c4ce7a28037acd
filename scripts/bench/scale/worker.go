package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/tasks/httpload"
)

// workerFlag, as the first argument, makes this program the worker child.
const workerFlag = "-worker"

// workerMain is the child: a boomer.Worker built as `zkload worker` builds it (default
// intervals and timeouts), with two classes, Idle and Http, serving the master on
// 127.0.0.1:-master-port until it sends quit. It logs warnings and errors only, so that
// whatever it prints is worth reading.
func workerMain(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("scale "+workerFlag, flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("master-port", 0, "port of the (fake) master on 127.0.0.1")
	url := fs.String("url", "", "HTTP target of the Http users")
	userRate := fs.Float64("user-rate", 0, "requests per second per Http user (constant_throughput); 0: no wait")
	statsInterval := fs.Duration("stats-interval", 3*time.Second, "stats report interval")
	idleWait := fs.Duration("idle-wait", time.Hour, "wait time of the Idle users")
	busySpin := fs.Duration("busy-spin", time.Millisecond, "CPU time of each task of the Busy users")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *port < 1 || *port > 65535 {
		return fmt.Errorf("-master-port %d: want 1-65535", *port)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var wait boomer.WaitTime // nil: no wait, as fast as the target answers
	if *userRate > 0 {
		wait = boomer.ConstantThroughput(*userRate)
	}
	w, err := boomer.NewWorker(boomer.WorkerOptions{
		MasterPort:    *port,
		Classes:       []*boomer.UserClass{idleClass(*idleWait), busyClass(*busySpin), httpload.Class(httpload.Options{Wait: wait})},
		Host:          *url,
		Logger:        log,
		StatsInterval: *statsInterval,
	})
	if err != nil {
		return err
	}
	// A Ctrl-C reaches the whole process group: quit as on the master's quit.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return w.Run(ctx)
}

// idleClass is a user that costs only its memory: its task records nothing and it then
// waits for wait (an hour), so N of them show what a user costs a worker at rest.
func idleClass(wait time.Duration) *boomer.UserClass {
	return &boomer.UserClass{
		Name:        "Idle",
		Weight:      1,
		Description: "does nothing, then waits " + wait.String(),
		Wait:        boomer.Constant(wait),
		Tasks: []boomer.Task{{Name: "idle", Weight: 1,
			Fn: func(context.Context, *boomer.User) error { return nil }}},
	}
}

// busyClass is a user whose task only burns CPU, for spin, and records nothing: as
// CPU-heavy user code (parsing, hashing) does, it keeps the worker's core busy whatever
// the HTTP target allows, so that heartbeats are measured with the core saturated.
func busyClass(spin time.Duration) *boomer.UserClass {
	return &boomer.UserClass{
		Name:        "Busy",
		Weight:      1,
		Description: "burns " + spin.String() + " of CPU per task",
		Tasks: []boomer.Task{{Name: "spin", Weight: 1,
			Fn: func(ctx context.Context, _ *boomer.User) error {
				spinFor(spin)
				return nil
			}}},
	}
}

// spinSink keeps spinFor's arithmetic from being optimised away.
var spinSink atomic.Uint64

// spinFor computes for d of wall time (the Go scheduler may preempt it meanwhile, as
// any user code).
func spinFor(d time.Duration) {
	start := time.Now()
	x := spinSink.Load() | 1
	for time.Since(start) < d {
		for range 1000 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
	}
	spinSink.Store(x)
}

// workerExit runs workerMain and returns the process's exit code.
func workerExit(args []string) int {
	err := workerMain(args, os.Stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	}
	fmt.Fprintf(os.Stderr, "scale %s: %v\n", workerFlag, err)
	return 1
}
