package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ProcOptions describes a child process for StartProcessOptions.
type ProcOptions struct {
	// Path is the program to run (an absolute path, or a name looked up in PATH).
	Path string
	Args []string
	// Env entries ("K=V") are added to the test's environment, overriding same-named
	// variables. With CleanEnv, they are the whole environment.
	Env      []string
	CleanEnv bool
	// Dir is the working directory (default: a fresh directory under t.TempDir()).
	Dir string
	// Label names the process in messages and its log file (default: base of Path).
	Label string
	// LogPath is where stdout and stderr go, interleaved (default: Dir/<label>.log).
	LogPath string
}

// Proc is a child process started by StartProcess: its own process group, stdout and
// stderr in one log file, killed (the whole group) at test cleanup.
type Proc struct {
	t       testing.TB
	Label   string
	LogPath string
	Dir     string

	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited and state is set
	mu   sync.Mutex
	st   *os.ProcessState
}

// StartProcess runs name (a path) with args; env entries are added to the test's
// environment. Its stdout and stderr go to a log file; see Proc.
func StartProcess(t testing.TB, name string, args []string, env []string) *Proc {
	t.Helper()
	return StartProcessOptions(t, ProcOptions{Path: name, Args: args, Env: env})
}

// StartProcessOptions is StartProcess with every option.
func StartProcessOptions(t testing.TB, o ProcOptions) *Proc {
	t.Helper()
	p, err := startProc(t, o)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return p
}

func startProc(t testing.TB, o ProcOptions) (*Proc, error) {
	if o.Label == "" {
		o.Label = filepath.Base(o.Path)
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), o.Label)
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	if o.LogPath == "" {
		o.LogPath = filepath.Join(o.Dir, o.Label+".log")
	}
	logf, err := os.OpenFile(o.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Path, o.Args...)
	cmd.Dir = o.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if o.CleanEnv {
		cmd.Env = o.Env
	} else {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", o.Label, err)
	}
	p := &Proc{t: t, Label: o.Label, LogPath: o.LogPath, Dir: o.Dir, cmd: cmd, log: logf, done: make(chan struct{})}
	go func() {
		cmd.Wait() // the exit status is in cmd.ProcessState
		p.mu.Lock()
		p.st = cmd.ProcessState
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.killGroup()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("testenv: %s (pid %d) did not die within 10s of SIGKILL", p.Label, p.Pid())
		}
		logf.Close()
		if t.Failed() {
			t.Logf("testenv: last lines of %s (%s):\n%s", p.Label, p.LogPath, lastLines(p.Log(), 25))
		}
	})
	return p, nil
}

// Pid is the process id (also its process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and if so its exit code (-1 if a
// signal ended it).
func (p *Proc) Exited() (code int, exited bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st == nil {
		return 0, false
	}
	return p.st.ExitCode(), true
}

// Status describes the process state for messages: "running", "exit status 1",
// "signal: killed".
func (p *Proc) Status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.st == nil {
		return "running"
	}
	return p.st.String()
}

// Log returns the whole log so far.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("<cannot read %s: %v>", p.LogPath, err)
	}
	return string(b)
}

// Mark returns the current length of the log, for WaitLogAfter.
func (p *Proc) Mark() int {
	fi, err := os.Stat(p.LogPath)
	if err != nil {
		return 0
	}
	return int(fi.Size())
}

// LogContains reports whether any log line matches the regular expression re.
func (p *Proc) LogContains(re string) bool {
	p.t.Helper()
	return len(p.matches(p.compile(re), 0, true)) > 0
}

// LogCount is the number of log lines matching re.
func (p *Proc) LogCount(re string) int {
	p.t.Helper()
	return len(p.matches(p.compile(re), 0, true))
}

// LogLines returns the log lines matching re.
func (p *Proc) LogLines(re string) []string {
	p.t.Helper()
	return p.matches(p.compile(re), 0, true)
}

// WaitLog waits until a log line matches the regular expression re and returns the
// first such line. It fails the test with the log's tail if none does within timeout,
// or if the process exits without printing one.
func (p *Proc) WaitLog(re string, timeout time.Duration) string {
	p.t.Helper()
	return p.WaitLogAfter(0, re, timeout)
}

// WaitLogAfter is WaitLog for lines that start at or after byte offset mark (from Mark).
func (p *Proc) WaitLogAfter(mark int, re string, timeout time.Duration) string {
	p.t.Helper()
	lines := p.WaitLogCountAfter(mark, re, 1, timeout)
	return lines[0]
}

// WaitLogCount waits until at least n log lines match re and returns them.
func (p *Proc) WaitLogCount(re string, n int, timeout time.Duration) []string {
	p.t.Helper()
	return p.WaitLogCountAfter(0, re, n, timeout)
}

// WaitLogCountAfter is WaitLogCount counting lines after mark only.
func (p *Proc) WaitLogCountAfter(mark int, re string, n int, timeout time.Duration) []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	lines, err := p.waitLog(ctx, mark, p.compile(re), n)
	if err != nil {
		p.t.Fatalf("testenv: %s: %v (waited %v)\nlast lines of %s:\n%s", p.Label, err, timeout, p.LogPath, lastLines(p.Log(), 40))
	}
	return lines
}

// WaitLogContext waits for n lines matching re after mark; it returns an error instead
// of failing the test, so it may run in any goroutine.
func (p *Proc) WaitLogContext(ctx context.Context, mark int, re string, n int) ([]string, error) {
	rx, err := regexp.Compile(re)
	if err != nil {
		return nil, err
	}
	return p.waitLog(ctx, mark, rx, n)
}

func (p *Proc) waitLog(ctx context.Context, mark int, rx *regexp.Regexp, n int) ([]string, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		exited := false
		select {
		case <-p.done:
			exited = true
		default:
		}
		// Only complete lines count while the process runs; at exit, all of them.
		if m := p.matches(rx, mark, exited); len(m) >= n {
			return m[:n], nil
		} else if exited {
			return nil, fmt.Errorf("process ended (%s) with %d of %d log lines matching %q", p.Status(), len(m), n, rx)
		}
		select {
		case <-ctx.Done():
			m := p.matches(rx, mark, true)
			return nil, fmt.Errorf("%d of %d log lines matching %q (process %s): %w", len(m), n, rx, p.Status(), ctx.Err())
		case <-tick.C:
		case <-p.done:
		}
	}
}

func (p *Proc) compile(re string) *regexp.Regexp {
	p.t.Helper()
	rx, err := regexp.Compile(re)
	if err != nil {
		p.t.Fatalf("testenv: bad regular expression %q: %v", re, err)
	}
	return rx
}

func (p *Proc) matches(rx *regexp.Regexp, mark int, partial bool) []string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil || mark > len(b) {
		return nil
	}
	b = b[mark:]
	if !partial {
		if i := strings.LastIndexByte(string(b), '\n'); i >= 0 {
			b = b[:i+1]
		} else {
			b = nil
		}
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if rx.MatchString(line) {
			out = append(out, line)
		}
	}
	return out
}

// Signal sends sig to the process (not its group). Signalling a process that has
// already exited is not an error.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("testenv: signal %v to %s: %v", sig, p.Label, err)
	}
}

// Kill SIGKILLs the whole process group and waits (up to 10s) until the process is gone.
func (p *Proc) Kill() {
	p.t.Helper()
	p.killGroup()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Fatalf("testenv: %s (pid %d) did not die within 10s of SIGKILL", p.Label, p.Pid())
	}
}

func (p *Proc) killGroup() {
	// The group id is the pid (Setpgid). ESRCH just means it is gone already.
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
}

// Wait waits for the process to exit and returns its exit code (-1 if a signal ended
// it). If it is still running after timeout, the test fails (and cleanup kills it).
func (p *Proc) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		code, _ := p.Exited()
		return code
	case <-time.After(timeout):
		p.t.Fatalf("testenv: %s (pid %d) still running after %v\nlast lines of %s:\n%s", p.Label, p.Pid(), timeout, p.LogPath, lastLines(p.Log(), 40))
		return 0
	}
}
