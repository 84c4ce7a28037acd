// Package zkenv runs real ZooKeeper servers on loopback for tests and local trials: a
// standalone server or an ensemble of several members, from Debian's zookeeper package
// (/usr/share/java/zookeeper.jar), with a configuration it writes itself (four-letter
// words and the AdminServer enabled, free ports, data in a directory it owns).
//
// Start returns once every member serves requests; StopMember and StartMember take one
// member down and bring it back; Close stops them all. Nothing here imports testing:
// see zkenv/zktest for the test wrapper.
package zkenv

import (
	"bufio"
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
	"sync"
	"syscall"
	"time"

	"github.com/zkload/zkload/fourlw"
	"github.com/zkload/zkload/internal/freeport"
)

// DefaultJar is Debian's ZooKeeper server jar (package zookeeper, 3.8).
const DefaultJar = "/usr/share/java/zookeeper.jar"

// Options configures Start. Zero values give a standalone server.
type Options struct {
	// Members is the number of servers: 1 (default) runs a standalone server, more run
	// a quorum ensemble.
	Members int
	// Dir holds each member's configuration, data and log (required).
	Dir string
	// Java is the java command (default "java").
	Java string
	// Classpath overrides the classpath built from Debian's jars.
	Classpath string
	// TickTime is ZooKeeper's tickTime (default 200ms: fast elections, and session
	// timeouts from 400ms to 4s accepted).
	TickTime time.Duration
	// HeapMB is each JVM's maximum heap (default 256).
	HeapMB int
	// QuickJIT limits each JVM to its quick (C1) compiler: it starts and warms up with
	// less CPU, but serves far fewer requests per second once warm (about 30% fewer
	// sets here). For tests; a server being measured wants the full JIT (the default).
	QuickJIT bool
	// DigestUsers, if set, enables SASL DIGEST-MD5 on the servers with these users
	// (name -> password).
	DigestUsers map[string]string
	// StartTimeout bounds how long Start and StartMember wait for members to serve
	// (default 60s); a context deadline, if earlier, wins.
	StartTimeout time.Duration
	// Partitions lets PartitionMember cut a member off from the others (Linux, root and
	// nft: see PartitionsAvailable). Off by default: it filters loopback traffic
	// through conntrack, which a plain benchmark should not pay for.
	Partitions bool
}

// Member is one server of an Ensemble.
type Member struct {
	// ID is the member's myid, from 1.
	ID int
	// ClientPort, AdminPort, PeerPort and ElectionPort are its ports on 127.0.0.1
	// (PeerPort and ElectionPort are 0 for a standalone server).
	ClientPort, AdminPort, PeerPort, ElectionPort int
	// Dir holds zoo.cfg, data/ and zookeeper.log.
	Dir string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Addr is the member's client address, 127.0.0.1:port.
func (m *Member) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(m.ClientPort)) }

// AdminURL is the base URL of the member's AdminServer, e.g. http://127.0.0.1:p/commands.
func (m *Member) AdminURL() string {
	return fmt.Sprintf("http://127.0.0.1:%d/commands", m.AdminPort)
}

// LogPath is the member's server log.
func (m *Member) LogPath() string { return filepath.Join(m.Dir, "zookeeper.log") }

// Pid is the process id of the member's JVM (0 if it was never started).
func (m *Member) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Running reports whether the member's process is alive.
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Ensemble is a set of running ZooKeeper servers started by Start.
type Ensemble struct {
	opts    Options
	members []*Member
}

// Start writes the configuration of opts.Members servers on free loopback ports, starts
// them and waits until each serves requests (for an ensemble: a leader elected and every
// member following or leading). On error, whatever was started is stopped.
func Start(ctx context.Context, opts Options) (*Ensemble, error) {
	if opts.Members <= 0 {
		opts.Members = 1
	}
	if opts.Dir == "" {
		return nil, errors.New("zkenv: Options.Dir is required")
	}
	if opts.Java == "" {
		opts.Java = "java"
	}
	if opts.TickTime <= 0 {
		opts.TickTime = 200 * time.Millisecond
	}
	if opts.HeapMB <= 0 {
		opts.HeapMB = 256
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Classpath == "" {
		cp, err := DebianClasspath()
		if err != nil {
			return nil, err
		}
		opts.Classpath = cp
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		e, err := start(ctx, opts, attempt)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if ctx.Err() != nil || !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

func start(ctx context.Context, opts Options, attempt int) (*Ensemble, error) {
	n := opts.Members
	perMember := 2
	if n > 1 {
		perMember = 4
	}
	ports, err := freeport.Ports(n * perMember)
	if err != nil {
		return nil, fmt.Errorf("zkenv: free port: %w", err)
	}
	e := &Ensemble{opts: opts}
	for i := 0; i < n; i++ {
		m := &Member{ID: i + 1, ClientPort: ports[i*perMember], AdminPort: ports[i*perMember+1],
			Dir: filepath.Join(opts.Dir, fmt.Sprintf("try%d", attempt), fmt.Sprintf("zk%d", i+1))}
		if n > 1 {
			m.PeerPort, m.ElectionPort = ports[i*perMember+2], ports[i*perMember+3]
		}
		e.members = append(e.members, m)
	}
	for _, m := range e.members {
		if err := e.writeConfig(m); err != nil {
			return nil, err
		}
	}
	if opts.Partitions && n > 1 {
		if err := e.setupPartitions(ctx); err != nil {
			return nil, err
		}
	}
	for _, m := range e.members {
		if err := e.launch(m); err != nil {
			e.Close()
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for i := range e.members {
		if err := e.WaitServing(ctx, i); err != nil {
			e.Close()
			return nil, err
		}
	}
	return e, nil
}

// DebianClasspath is the classpath of Debian's ZooKeeper server: the jar (whose manifest
// names its dependencies), a log4j binding for slf4j, and the servlet API the
// AdminServer's Jetty needs.
func DebianClasspath() (string, error) {
	parts := []string{DefaultJar, "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar",
		"/usr/share/java/servlet-api.jar"}
	if _, err := os.Stat(DefaultJar); err != nil {
		return "", fmt.Errorf("zkenv: ZooKeeper is not installed (%w); install Debian's zookeeper package", err)
	}
	var have []string
	for _, p := range parts {
		if _, err := os.Stat(p); err == nil {
			have = append(have, p)
		}
	}
	return strings.Join(have, ":"), nil
}

// Available reports why ZooKeeper servers cannot run here, or nil if they can.
func Available() error {
	if _, err := os.Stat(DefaultJar); err != nil {
		return fmt.Errorf("no %s: install Debian's zookeeper package (scripts/setup.sh)", DefaultJar)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("no java on PATH: install default-jre-headless (scripts/setup.sh)")
	}
	return nil
}

func (e *Ensemble) writeConfig(m *Member) error {
	if err := os.MkdirAll(filepath.Join(m.Dir, "data"), 0o755); err != nil {
		return fmt.Errorf("zkenv: %w", err)
	}
	tick := int(e.opts.TickTime / time.Millisecond)
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=20\nsyncLimit=10\n", tick)
	fmt.Fprintf(&b, "minSessionTimeout=%d\nmaxSessionTimeout=%d\n", 2*tick, 600*tick)
	fmt.Fprintf(&b, "dataDir=%s\n", filepath.Join(m.Dir, "data"))
	fmt.Fprintf(&b, "clientPort=%d\nclientPortAddress=127.0.0.1\n", m.ClientPort)
	fmt.Fprintf(&b, "maxClientCnxns=0\n4lw.commands.whitelist=*\n")
	fmt.Fprintf(&b, "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n", m.AdminPort)
	b.WriteString("autopurge.purgeInterval=0\nsnapCount=100000\n")
	// Keep fsync from dominating on shared CI disks: a test ensemble, not a durable one.
	b.WriteString("forceSync=no\n")
	if len(e.opts.DigestUsers) > 0 {
		b.WriteString("authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n")
	}
	if len(e.members) > 1 {
		b.WriteString("standaloneEnabled=false\nreconfigEnabled=false\n")
		for _, o := range e.members {
			fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d\n", o.ID, o.PeerPort, o.ElectionPort)
		}
		if err := os.WriteFile(filepath.Join(m.Dir, "data", "myid"), []byte(strconv.Itoa(m.ID)+"\n"), 0o644); err != nil {
			return fmt.Errorf("zkenv: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "zoo.cfg"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("zkenv: %w", err)
	}
	log4j := `log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] %-5p [%t:%C{1}@%L] - %m%n
`
	if err := os.WriteFile(filepath.Join(m.Dir, "log4j.properties"), []byte(log4j), 0o644); err != nil {
		return fmt.Errorf("zkenv: %w", err)
	}
	if len(e.opts.DigestUsers) > 0 {
		var j strings.Builder
		j.WriteString("Server {\n  org.apache.zookeeper.server.auth.DigestLoginModule required")
		for u, p := range e.opts.DigestUsers {
			fmt.Fprintf(&j, "\n  user_%s=%q", u, p)
		}
		j.WriteString(";\n};\n")
		if err := os.WriteFile(filepath.Join(m.Dir, "jaas.conf"), []byte(j.String()), 0o644); err != nil {
			return fmt.Errorf("zkenv: %w", err)
		}
	}
	return nil
}

func (e *Ensemble) launch(m *Member) error {
	args := []string{fmt.Sprintf("-Xmx%dm", e.opts.HeapMB), "-XX:+UseSerialGC", "-Xss512k"}
	if e.opts.QuickJIT {
		args = append(args, "-XX:TieredStopAtLevel=1")
	}
	args = append(args,
		"-Dzookeeper.log.dir="+m.Dir, "-Dlog4j.configuration=file:"+filepath.Join(m.Dir, "log4j.properties"),
		"-Dzookeeper.jmx.log4j.disable=true",
	)
	if len(e.opts.DigestUsers) > 0 {
		args = append(args, "-Djava.security.auth.login.config="+filepath.Join(m.Dir, "jaas.conf"))
	}
	args = append(args, "-cp", e.opts.Classpath, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
		filepath.Join(m.Dir, "zoo.cfg"))
	logf, err := os.OpenFile(m.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("zkenv: %w", err)
	}
	cmd := exec.Command(e.opts.Java, args...)
	cmd.Dir = m.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	e.credential(m, cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("zkenv: start member %d: %w", m.ID, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	m.mu.Lock()
	m.cmd, m.done = cmd, done
	m.mu.Unlock()
	return nil
}

// Members returns the ensemble's members, in myid order.
func (e *Ensemble) Members() []*Member { return e.members }

// Servers returns the members' client addresses.
func (e *Ensemble) Servers() []string {
	var s []string
	for _, m := range e.members {
		s = append(s, m.Addr())
	}
	return s
}

// ConnectString is the client connect string, "127.0.0.1:p1,127.0.0.1:p2,...".
func (e *Ensemble) ConnectString() string { return strings.Join(e.Servers(), ",") }

// StopMember kills member i (from 0) with SIGKILL, as a crash would, and waits until its
// process is gone.
func (e *Ensemble) StopMember(ctx context.Context, i int) error {
	m := e.members[i]
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("zkenv: member %d did not exit: %w", m.ID, ctx.Err())
	}
}

// PauseMember freezes member i (SIGSTOP to its process group), as a long GC pause
// does: its connections stay open and nothing answers.
func (e *Ensemble) PauseMember(i int) error { return e.signalMember(i, syscall.SIGSTOP) }

// ResumeMember thaws a paused member i (SIGCONT).
func (e *Ensemble) ResumeMember(i int) error { return e.signalMember(i, syscall.SIGCONT) }

func (e *Ensemble) signalMember(i int, sig syscall.Signal) error {
	m := e.members[i]
	m.mu.Lock()
	cmd := m.cmd
	m.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("zkenv: member %d is not running", m.ID)
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("zkenv: member %d: %v: %w", m.ID, sig, err)
	}
	return nil
}

// StartMember starts member i (from 0) again, with its data, and waits until it serves.
func (e *Ensemble) StartMember(ctx context.Context, i int) error {
	m := e.members[i]
	if m.Running() {
		return nil
	}
	if err := e.launch(m); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.StartTimeout)
	defer cancel()
	return e.WaitServing(ctx, i)
}

// WaitServing waits until member i answers srvr as a serving server (standalone, leader
// or follower). It fails early if the member's process exits.
func (e *Ensemble) WaitServing(ctx context.Context, i int) error {
	m := e.members[i]
	m.mu.Lock()
	done := m.done
	m.mu.Unlock()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		out, err := ask(ctx, m.Addr(), "srvr")
		if err == nil && strings.Contains(out, "Mode: ") {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = strings.TrimSpace(out)
		}
		select {
		case <-done:
			tail := logTail(m.LogPath(), 20)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("zkenv: member %d: %w:\n%s", m.ID, errPortTaken, tail)
			}
			return fmt.Errorf("zkenv: member %d exited before serving; log tail:\n%s", m.ID, tail)
		case <-ctx.Done():
			return fmt.Errorf("zkenv: member %d not serving (%s): %w; log tail:\n%s", m.ID, last, ctx.Err(), logTail(m.LogPath(), 20))
		case <-tick.C:
		}
	}
}

// Mode returns member i's role as srvr reports it: "standalone", "leader" or
// "follower".
func (e *Ensemble) Mode(ctx context.Context, i int) (string, error) {
	out, err := ask(ctx, e.members[i].Addr(), "srvr")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("zkenv: member %d is not serving: %s", i+1, strings.TrimSpace(out))
}

// Mntr returns member i's mntr metrics (zk_znode_count, zk_watch_count, ...).
func (e *Ensemble) Mntr(ctx context.Context, i int) (map[string]string, error) {
	out, err := ask(ctx, e.members[i].Addr(), "mntr")
	if err != nil {
		return nil, err
	}
	res := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			res[k] = strings.TrimSpace(v)
		}
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("zkenv: mntr of member %d: %s", i+1, strings.TrimSpace(out))
	}
	return res, nil
}

// Admin fetches an AdminServer command (e.g. "monitor", "ruok") of member i and returns
// the JSON body.
func (e *Ensemble) Admin(ctx context.Context, i int, command string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.members[i].AdminURL()+"/"+command, nil)
	if err != nil {
		return "", fmt.Errorf("zkenv: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("zkenv: admin %s: %w", command, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if resp.StatusCode != http.StatusOK {
		return b.String(), fmt.Errorf("zkenv: admin %s: %s", command, resp.Status)
	}
	return b.String(), sc.Err()
}

// Close kills every member and waits for them to exit.
func (e *Ensemble) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for i := range e.members {
		if err := e.StopMember(ctx, i); err != nil {
			errs = append(errs, err)
		}
	}
	e.closePartitions()
	return errors.Join(errs...)
}

// ask asks a member a four-letter word, each question bounded on its own so that a
// member that hangs does not use up a caller's longer wait.
func ask(ctx context.Context, addr, word string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := fourlw.Ask(ctx, addr, word)
	if err != nil {
		return "", fmt.Errorf("zkenv: %w", err)
	}
	return out, nil
}

func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The Members of package faults: a local ensemble disabled by kill -9, enabled by a
// start on its data, paused by SIGSTOP and resumed by SIGCONT.

// Addrs returns the members' client addresses (Servers).
func (e *Ensemble) Addrs() []string { return e.Servers() }

// Disable kills member i (StopMember).
func (e *Ensemble) Disable(ctx context.Context, i int) error { return e.StopMember(ctx, i) }

// Enable starts member i again (StartMember).
func (e *Ensemble) Enable(ctx context.Context, i int) error { return e.StartMember(ctx, i) }

// Pause freezes member i (PauseMember).
func (e *Ensemble) Pause(_ context.Context, i int) error { return e.PauseMember(i) }

// Resume thaws member i (ResumeMember).
func (e *Ensemble) Resume(_ context.Context, i int) error { return e.ResumeMember(i) }

// Supports says why the ensemble cannot take action (as package faults names them).
func (e *Ensemble) Supports(_ context.Context, action string) error {
	switch action {
	case "partition", "heal":
		if len(e.members) < 2 {
			return errors.New("a standalone server has no others to be cut off from")
		}
		if !e.opts.Partitions {
			return errors.New("partitions are off: start the ensemble with them (zkload ensemble --partitions)")
		}
	}
	return nil
}

// Partition cuts member i off from the others (PartitionMember).
func (e *Ensemble) Partition(ctx context.Context, i int) error { return e.PartitionMember(ctx, i) }

// Heal ends member i's partition (HealMember).
func (e *Ensemble) Heal(ctx context.Context, i int) error { return e.HealMember(ctx, i) }
