// Command zkload runs Locust-compatible Go workers: a stock `locust --master` drives
// them as it drives its own workers, at a fraction of the CPU.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func usage(w io.Writer) {
	fmt.Fprint(w, `zkload: Locust-compatible Go workers for benchmarking ZooKeeper and HTTP services.

Usage:
  zkload <command> [options] [UserClass ...]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "zkload <command> --help" for a command's options.

A typical run:
  zkload locustfile > zkload_locustfile.py
  locust -f zkload_locustfile.py --master -H http://127.0.0.1:8080 &
  zkload worker --master-host 127.0.0.1 Http
`)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error already explained to the user; the exit code is 2.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.execute(args[1:], stdout, stderr)
			if code := exitCode(err); code == 1 {
				fmt.Fprintf(stderr, "zkload %s: %v\n", c.name, err)
			}
			return exitCode(err)
		}
	}
	fmt.Fprintf(stderr, "zkload: unknown command %q; want one of: %s (see zkload --help)\n", args[0], names())
	return 2
}

// execute parses the command line into the command's settings and runs the command.
func (c command) execute(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(c.name, c.synopsis, c.about, stdout, stderr)
	c.define(fs)
	pos, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && !c.takesArgs {
		return fs.fail("unexpected argument %q: %s takes only options (see zkload %s --help)", pos[0], c.name, c.name)
	}
	return c.run(fs, pos)
}

// exitCode is a command's exit code: 0 for success (and --help), 2 for bad input
// (already explained), 1 for a failure.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 1
}

// codedError is a failure with an exit code of its own (the watchdog's 3).
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func names() string {
	var n []string
	for _, c := range commands() {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}
