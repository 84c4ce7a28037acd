package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/internal/fakemaster"
	"github.com/zkload/zkload/internal/freeport"
)

// child is a worker child process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited; err is set then
	err  error
}

// pinned returns the command line that runs name with args on core cpu with taskset,
// or unpinned if cpu < 0 or there is no taskset. taskset execs the program, so the
// pid it starts with is the program's.
func pinned(cpu int, name string, args ...string) (string, []string) {
	if cpu < 0 || tasksetPath == "" {
		return name, args
	}
	return tasksetPath, append([]string{"-c", strconv.Itoa(cpu), name}, args...)
}

// tasksetPath is where taskset is, or "" if it is not installed.
var tasksetPath, _ = exec.LookPath("taskset")

// startChild starts this program as a worker child with GOMAXPROCS=1 (as bench.sh runs
// zkload), its output on our stderr.
func startChild(cpu int, args []string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to run it as the worker: %w", err)
	}
	name, argv := pinned(cpu, self, append([]string{workerFlag}, args...)...)
	cmd := exec.Command(name, argv...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the worker: %w", err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// wait waits up to timeout for the child to exit, then kills it.
func (c *child) wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		if c.err != nil {
			return fmt.Errorf("worker exited: %w", c.err)
		}
		return nil
	case <-t.C:
	}
	c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("worker did not quit within %v; killed", timeout)
}

// session is one worker child registered with its own fake master.
type session struct {
	fm *fakemaster.Master
	ch *child
	id string // the worker's node id (its ZeroMQ identity)
	// ctx ends with the parent's context or when the child exits, so that no wait
	// outlives the worker it waits for.
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// startSession starts a fake master (answering heartbeats, as Locust 2.19+ does) and a
// worker child for it, and registers the worker as a master does (client_ready, ack).
func startSession(ctx context.Context, cfg *config, workerArgs ...string) (s *session, err error) {
	fm, err := fakemaster.NewWithOptions(fakemaster.Options{AutoHeartbeat: true})
	if err != nil {
		return nil, fmt.Errorf("fake master: %w", err)
	}
	args := append([]string{"-master-port", strconv.Itoa(fm.Port), "-url", cfg.target.url,
		"-stats-interval", cfg.statsInterval.String()}, workerArgs...)
	ch, err := startChild(cfg.workerCPU, args)
	if err != nil {
		fm.Close()
		return nil, err
	}
	s = &session{fm: fm, ch: ch}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	go func() {
		select {
		case <-ch.done:
			s.cancel(fmt.Errorf("worker exited (%v)", ch.err))
		case <-s.ctx.Done():
		}
	}()
	actx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	r, _, err := fm.AckWorker(actx)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("registering the worker: %w", cause(actx, err))
	}
	s.id = r.Identity
	return s, nil
}

// cause is err, or the cause of ctx's end when that is more telling (a worker that
// exited rather than a deadline).
func cause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.DeadlineExceeded) && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// close asks the worker to quit, waits for it (killing it if it does not quit), and
// closes the master. It returns the worker's exit error, if any.
func (s *session) close() error {
	defer s.fm.Close()
	defer s.cancel(nil)
	if s.id != "" {
		s.fm.Send(s.id, fakemaster.Quit())
	}
	return s.ch.wait(15 * time.Second)
}

// spawn sends one spawn message with these per-class counts, as a master whose spawn
// rate is at least the user count does, and waits for the worker's spawning_complete.
// It returns when it sent the spawn and the spawning_complete.
func (s *session) spawn(counts map[string]int, timeout time.Duration) (time.Time, fakemaster.Received, error) {
	want := 0
	for _, n := range counts {
		want += n
	}
	sent := time.Now()
	if err := s.fm.Send(s.id, fakemaster.SpawnLatest(fakemaster.Now(), counts, nil, nil)); err != nil {
		return sent, fakemaster.Received{}, fmt.Errorf("sending spawn: %w", err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	r, err := s.fm.ExpectFrom(ctx, s.id, wire.TypeSpawningComplete)
	if err != nil {
		return sent, r, fmt.Errorf("spawning %d users: %w", want, cause(ctx, err))
	}
	if got, _ := wire.Number(field(r, "user_count")); int(got) != want {
		return sent, r, fmt.Errorf("spawning_complete says %v users, want %d", got, want)
	}
	return sent, r, nil
}

// messages returns the well-formed messages of type typ from the worker received after t.
func (s *session) messages(typ string, after time.Time) []fakemaster.Received {
	var out []fakemaster.Received
	for _, r := range s.fm.Received() {
		if r.Err == nil && r.Identity == s.id && r.Msg.Type == typ && r.At.After(after) {
			out = append(out, r)
		}
	}
	return out
}

// next returns the first message of type typ from the worker that arrived after t,
// waiting for it up to timeout.
func (s *session) next(typ string, after time.Time, timeout time.Duration) (fakemaster.Received, error) {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	for {
		// ExpectFrom returns the oldest not yet returned; older ones are passed over.
		r, err := s.fm.ExpectFrom(ctx, s.id, typ)
		if err != nil {
			return r, fmt.Errorf("waiting for %s: %w", typ, cause(ctx, err))
		}
		if r.At.After(after) {
			return r, nil
		}
	}
}

// sleep waits d or until the session ends.
func (s *session) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	case <-t.C:
		return nil
	}
}

// field is key of a message's data (nil if the data is not a map).
func field(r fakemaster.Received, key string) any {
	m, _ := r.Msg.Data.(map[string]any)
	return m[key]
}

// memory is a process's VmRSS and VmHWM (peak RSS) in bytes.
func memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("reading the worker's memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		var dst *int64
		switch f[0] {
		case "VmRSS:":
			dst = &rss
		case "VmHWM:":
			dst = &peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %q: %w", pid, sc.Text(), err)
		}
		*dst = kb << 10
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
	}
	return rss, peak, nil
}

// settledRSS polls the worker's RSS until it varied by less than 1% over cfg.settle
// (users still starting, or the GC returning memory, move it), for at most
// cfg.settleMax. It returns the last reading and whether it had settled.
func (s *session) settledRSS(cfg *config) (rss, peak int64, settled bool, err error) {
	const every = 100 * time.Millisecond
	window := int(cfg.settle/every) + 1
	var last []int64
	deadline := time.Now().Add(cfg.settleMax)
	for {
		if rss, peak, err = memory(s.ch.pid()); err != nil {
			return 0, 0, false, err
		}
		last = append(last, rss)
		if len(last) > window {
			last = last[1:]
		}
		if len(last) == window {
			lo, hi := last[0], last[0]
			for _, v := range last {
				lo, hi = min(lo, v), max(hi, v)
			}
			if float64(hi-lo) <= 0.01*float64(hi) {
				return rss, peak, true, nil
			}
		}
		if time.Now().After(deadline) {
			return rss, peak, false, nil
		}
		if err := s.sleep(every); err != nil {
			return 0, 0, false, err
		}
	}
}

// target is the HTTP server the Http users load.
type target struct {
	url  string
	desc string
	stop func()
}

// startTarget returns -url if given, else starts nginx (pinned to -server-cpu) or, if
// there is none or -server go, a net/http server in this process.
func startTarget(cfg *config) (*target, error) {
	if cfg.url != "" {
		return &target{url: cfg.url, desc: cfg.url + " (-url)", stop: func() {}}, nil
	}
	nginx := cfg.nginx
	if cfg.server == "go" {
		nginx = ""
	} else if nginx == "" {
		nginx, _ = exec.LookPath("nginx")
		if nginx == "" {
			if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
				nginx = "/usr/sbin/nginx"
			}
		}
	}
	if nginx == "" && cfg.server == "nginx" {
		return nil, errors.New("-server nginx: nginx not found (-nginx PATH)")
	}
	if nginx != "" {
		return startNginx(nginx, cfg.serverCPU)
	}
	return startGoServer()
}

// startGoServer serves "ok\n" on 127.0.0.1 from this process. It is slower per request
// than nginx, so with it the worker's core may not saturate (the report says so).
func startGoServer() (*target, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("HTTP target: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})}
	go srv.Serve(l)
	return &target{url: "http://" + l.Addr().String(), desc: "net/http server in the measuring process, 3-byte body",
		stop: func() { srv.Close() }}, nil
}

// startNginx runs nginx as bench.sh does: one worker process, no master process, no
// access log, a 3-byte body, on a free loopback port.
func startNginx(path string, cpu int) (*target, error) {
	dir, err := os.MkdirTemp("", "zkload-scale-nginx.")
	if err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	port, err := freeport.Port()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nginx: %w", err)
	}
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s;
  proxy_temp_path %[1]s;
  fastcgi_temp_path %[1]s;
  uwsgi_temp_path %[1]s;
  scgi_temp_path %[1]s;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:%[2]d;
    location / { default_type text/plain; return 200 "ok\n"; }
  }
}
`, dir, port)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("nginx: %w", err)
	}
	name, args := pinned(cpu, path, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", confPath)
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting nginx: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("nginx exited (%v): %s", err, strings.TrimSpace(out.String()+string(log)))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("nginx did not listen on %s within 5 s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	desc := "nginx, 1 worker process (master_process off), 3-byte body"
	if v, err := exec.Command(path, "-v").CombinedOutput(); err == nil {
		if _, ver, ok := strings.Cut(strings.TrimSpace(string(v)), "nginx/"); ok {
			desc = "nginx " + ver + desc[len("nginx"):]
		}
	}
	if name == tasksetPath {
		desc += fmt.Sprintf(", on core %d", cpu)
	}
	return &target{url: "http://" + addr, desc: desc, stop: stop}, nil
}
