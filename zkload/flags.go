package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/tasks/httpload"
)

// flagSet is a subcommand's flags, with Locust-style usage and one-line errors.
type flagSet struct {
	*flag.FlagSet
	name   string
	help   func() // prints the usage
	stdout io.Writer
	stderr io.Writer
	// preparse hooks see the arguments before parsing (to define open-ended flags).
	preparse []func(args []string)
}

func newFlagSet(name, synopsis, about string, stdout, stderr io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("zkload "+name, flag.ContinueOnError), name: name, stdout: stdout, stderr: stderr}
	fs.SetOutput(io.Discard)
	// flag calls Usage on every parse error; the usage is printed only for --help
	// (in parse), so that a bad flag gives one line.
	fs.Usage = func() {}
	fs.help = func() {
		fmt.Fprintf(stdout, "Usage: zkload %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags and positional arguments in any order. Bad flags give one line
// on stderr and errUsage.
func (fs *flagSet) parse(args []string) ([]string, error) {
	for _, f := range fs.preparse {
		f(args)
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, flag.ErrHelp
			}
			fmt.Fprintf(fs.stderr, "zkload %s: %v (see zkload %s --help)\n", fs.name, err, fs.name)
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// fail reports a bad value in one line and returns errUsage.
func (fs *flagSet) fail(format string, a ...any) error {
	fmt.Fprintf(fs.stderr, "zkload %s: %s\n", fs.name, fmt.Sprintf(format, a...))
	return errUsage
}

// set reports whether the named flag was given on the command line.
func (fs *flagSet) set(name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// headerList is a repeatable "Name: value" flag.
type headerList struct{ h http.Header }

func (l *headerList) String() string {
	if l == nil || l.h == nil {
		return ""
	}
	var parts []string
	for k, vs := range l.h {
		for _, v := range vs {
			parts = append(parts, k+": "+v)
		}
	}
	return strings.Join(parts, ", ")
}

func (l *headerList) Set(s string) error {
	k, v, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("header %q: want \"Name: value\"", s)
	}
	if l.h == nil {
		l.h = http.Header{}
	}
	l.h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	return nil
}

// workloadFlags are the settings of zkload's user classes, shared by every command
// that builds them.
type workloadFlags struct {
	httpPath    string
	httpMethod  string
	httpHeaders headerList
	httpBody    string
	httpTimeout time.Duration
	httpInsec   bool
	zk          zkFlags
}

func (w *workloadFlags) register(fs *flagSet) {
	fs.StringVar(&w.httpPath, "http-path", "/", "Http: path to request")
	fs.StringVar(&w.httpMethod, "http-method", "GET", "Http: request method")
	fs.Var(&w.httpHeaders, "http-header", "Http: request header \"Name: value\" (repeatable)")
	fs.StringVar(&w.httpBody, "http-body", "", "Http: request body")
	fs.DurationVar(&w.httpTimeout, "http-timeout", 60*time.Second, "Http: timeout of one request")
	fs.BoolVar(&w.httpInsec, "http-insecure", false, "Http: do not verify https certificates (self-signed test servers)")
	w.zk.register(fs)
}

func (w *workloadFlags) validate(fs *flagSet) error {
	if w.httpMethod == "" || strings.ContainsAny(w.httpMethod, " \t\r\n") {
		return fs.fail("--http-method %q: want an HTTP method such as GET or POST", w.httpMethod)
	}
	if w.httpTimeout <= 0 {
		return fs.fail("--http-timeout %s: want a positive duration such as 30s", w.httpTimeout)
	}
	return w.zk.validate(fs)
}

// classes returns every user class zkload has, built from the settings.
func (w *workloadFlags) classes() []*boomer.UserClass {
	return append([]*boomer.UserClass{
		httpload.Class(httpload.Options{
			Path: w.httpPath, Method: w.httpMethod, Headers: w.httpHeaders.h,
			Body: w.httpBody, Timeout: w.httpTimeout, Insecure: w.httpInsec,
		}),
	}, w.zk.classes()...)
}

// classNames lists the classes' names, in order.
func classNames(classes []*boomer.UserClass) []string {
	names := make([]string, 0, len(classes))
	for _, c := range classes {
		names = append(names, c.Name)
	}
	return names
}

// selectClasses picks the classes named on the command line (all when none is named).
func selectClasses(fs *flagSet, all []*boomer.UserClass, names []string) ([]*boomer.UserClass, error) {
	if len(names) == 0 {
		return all, nil
	}
	var out []*boomer.UserClass
	seen := map[string]bool{}
	for _, n := range names {
		var found *boomer.UserClass
		for _, c := range all {
			if strings.EqualFold(c.Name, n) {
				found = c
			}
		}
		if found == nil {
			var known []string
			for _, c := range all {
				known = append(known, c.Name)
			}
			return nil, fs.fail("unknown user class %q; want one of: %s (see zkload list)", n, strings.Join(known, ", "))
		}
		if !seen[found.Name] {
			seen[found.Name] = true
			out = append(out, found)
		}
	}
	return out, nil
}

// logFlags sets up logging to stderr at Locust's log levels.
type logFlags struct{ level string }

func (l *logFlags) register(fs *flagSet) {
	fs.StringVar(&l.level, "loglevel", "INFO", "log level: DEBUG, INFO, WARNING or ERROR")
	fs.StringVar(&l.level, "L", "INFO", "short for --loglevel")
}

func (l *logFlags) logger(fs *flagSet) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToUpper(l.level) {
	case "DEBUG":
		lv = slog.LevelDebug
	case "INFO":
		lv = slog.LevelInfo
	case "WARNING", "WARN":
		lv = slog.LevelWarn
	case "ERROR", "CRITICAL":
		lv = slog.LevelError
	default:
		return nil, fs.fail("--loglevel %q: want DEBUG, INFO, WARNING or ERROR", l.level)
	}
	return slog.New(slog.NewTextHandler(fs.stderr, &slog.HandlerOptions{Level: lv})), nil
}

// envOr returns the environment variable's value if the flag was not given.
func envOr(fs *flagSet, flagName, env, cur string) string {
	if fs.set(flagName) {
		return cur
	}
	if v, ok := os.LookupEnv(env); ok && v != "" {
		return v
	}
	return cur
}

// parsePort checks a TCP port given by the flag or environment variable named what.
func parsePort(fs *flagSet, what, s string) (int, error) {
	p, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || p < 1 || p > 65535 {
		return 0, fs.fail("%s %q: want a TCP port, 1-65535", what, s)
	}
	return p, nil
}

// signalContext is cancelled by SIGINT or SIGTERM, so that a command can finish cleanly
// (final stats, flushed files); a second signal ends the process at once.
func signalContext(stderr io.Writer, command string) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintf(stderr, "zkload %s: second signal, exiting now\n", command)
		os.Exit(1)
	}()
	return ctx, stop
}

// profileFlags is --cpu-profile: a Go CPU profile of the whole command, for `go tool
// pprof`, to see where a worker's time goes under load.
type profileFlags struct{ cpu string }

func (p *profileFlags) register(fs *flagSet) {
	fs.StringVar(&p.cpu, "cpu-profile", "", "write a Go CPU profile of this process to FILE (read it with go tool pprof)")
}

// start begins profiling if asked; the returned function ends it and closes the file.
func (p *profileFlags) start(fs *flagSet) (func(), error) {
	if p.cpu == "" {
		return func() {}, nil
	}
	f, err := os.Create(p.cpu)
	if err != nil {
		return nil, fs.fail("--cpu-profile %q: %v", p.cpu, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fs.fail("--cpu-profile %q: %v", p.cpu, err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(fs.stderr, "zkload %s: --cpu-profile %q: %v\n", fs.name, p.cpu, err)
		}
	}, nil
}
