package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NewestLocustEnv names the variable that says how to run the newest Locust: the
// command newest-locust.sh prints (env K=V ... /usr/bin/python3 -m locust).
const NewestLocustEnv = "LOCUST_NEWEST"

// Locust is one Locust release the end-to-end tests run as master (and as Python
// worker): Debian's 2.12.1, or the newest from ../shared/third_party.
type Locust struct {
	// Version is the release, "2.12.1" or e.g. "2.46.3"; subtests are named by it.
	Version string
	// Path and Args run `locust` (Args come before Locust's own arguments); Env holds
	// the variables it needs (PYTHONPATH for the newest).
	Path string
	Args []string
	Env  []string
}

// Debian is Locust 2.12.1 from Debian's python3-locust (its own version string is
// empty, so the release is named here).
func Debian() Locust { return Locust{Version: "2.12.1", Path: LocustPath} }

// Newer reports whether l is at least the given release (e.g. "2.14.1").
func (l Locust) Newer(than string) bool { return compareVersions(l.Version, than) >= 0 }

// Command returns l's command line with args after it.
func (l Locust) Command(args ...string) (path string, all []string) {
	return l.Path, append(append([]string(nil), l.Args...), args...)
}

// ForEachLocust runs f as one subtest per Locust release, named by its version:
// Debian's 2.12.1 always, and the newest when it can run here (LOCUST_NEWEST set, or
// ../shared/third_party/newest-locust.sh beside the repository, which is unpacked once
// into a cache directory). When it cannot, that subtest is skipped with a message
// saying how to enable it.
func ForEachLocust(t *testing.T, f func(t *testing.T, l Locust)) {
	t.Helper()
	RequireLocust(t)
	t.Run(Debian().Version, func(t *testing.T) { f(t, Debian()) })
	newest, err := NewestLocust()
	name := "newest"
	if err == nil {
		name = newest.Version
	}
	t.Run(name, func(t *testing.T) {
		if err != nil {
			t.Skipf("the newest Locust is not available: %v; set %s to the command "+
				"../shared/third_party/newest-locust.sh DIR prints to run these tests against it", err, NewestLocustEnv)
		}
		f(t, newest)
	})
}

// NewestLocust returns the newest Locust release available here (see ForEachLocust).
func NewestLocust() (Locust, error) {
	cmd := os.Getenv(NewestLocustEnv)
	if cmd == "" {
		script, err := newestScript()
		if err != nil {
			return Locust{}, err
		}
		if cmd, err = unpackNewest(script); err != nil {
			return Locust{}, err
		}
	}
	l, err := parseLocustCommand(cmd)
	if err != nil {
		return Locust{}, fmt.Errorf("%s: %w", NewestLocustEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path, args := l.Command("--version")
	c := exec.CommandContext(ctx, path, args...)
	c.Env = append(os.Environ(), l.Env...)
	out, err := c.CombinedOutput()
	if err != nil {
		return Locust{}, fmt.Errorf("%s --version: %w: %s", cmd, err, lastLines(string(out), 3))
	}
	m := regexp.MustCompile(`locust (\d+\.\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		return Locust{}, fmt.Errorf("%s --version printed no version: %q", cmd, lastLines(string(out), 1))
	}
	l.Version = string(m[1])
	return l, nil
}

// newestScript finds ../shared/third_party/newest-locust.sh beside the repository.
func newestScript() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	script := filepath.Join(filepath.Dir(root), "shared", "third_party", "newest-locust.sh")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("no %s (../shared is beside the repository in CI, not in a user's clone)", script)
	}
	return script, nil
}

// repoRoot is the directory holding go.mod, found upwards from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// unpackNewest runs script into a directory shared by every test binary (go test runs
// packages at once: a lock file keeps them from unpacking over each other) and returns
// the command it prints.
func unpackNewest(script string) (string, error) {
	dir := filepath.Join(os.TempDir(), "zkload-test-newest-locust")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stderr strings.Builder
	c := exec.CommandContext(ctx, "bash", script, dir)
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// parseLocustCommand splits "env K=V ... prog args" (as newest-locust.sh prints it) or
// "prog args" into a Locust. Paths must not hold spaces.
func parseLocustCommand(cmd string) (Locust, error) {
	f := strings.Fields(cmd)
	var l Locust
	if len(f) > 0 && f[0] == "env" {
		f = f[1:]
		for len(f) > 0 && strings.Contains(f[0], "=") {
			l.Env = append(l.Env, f[0])
			f = f[1:]
		}
	}
	if len(f) == 0 {
		return Locust{}, fmt.Errorf("no program in %q", cmd)
	}
	l.Path, l.Args = f[0], f[1:]
	return l, nil
}

// compareVersions compares dotted release numbers: -1, 0 or 1.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// StartPythonWorker starts Locust's own worker of release l on locustfile, attached to
// the master on 127.0.0.1:masterPort, with its output in a log file.
func StartPythonWorker(t testing.TB, l Locust, locustfile string, masterPort int, extra ...string) *Proc {
	t.Helper()
	path, args := l.Command(append([]string{"-f", locustfile, "--worker",
		"--master-host", "127.0.0.1", "--master-port", fmt.Sprint(masterPort)}, extra...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LOCUST_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	p, err := startProc(t, ProcOptions{Path: path, Args: args, Env: append(env, l.Env...), CleanEnv: true, Label: "locust-worker"})
	if err != nil {
		t.Fatalf("testenv.StartPythonWorker: %v", err)
	}
	return p
}
