// Package testenv holds helpers for zkload's end-to-end tests: a real Locust master
// (Debian's Locust 2.12.1 at /usr/bin/locust), the zkload worker binary, a local HTTP
// target and the CSV files the master writes.
//
// Conventions:
//   - Everything that starts something registers its own cleanup with t.Cleanup: child
//     processes run in their own process group, which is SIGKILLed at cleanup (and, on
//     Linux, also when the test binary dies, via Pdeathsig), servers are closed.
//   - Every blocking helper takes a timeout and fails the test (t.Fatalf) with the tail
//     of the relevant log when it runs out. Like t.Fatalf itself, those helpers must be
//     called from the goroutine running the test; the *Err / *Context variants return
//     errors instead and may be called from any goroutine.
//   - The package keeps no package-level mutable state; share a built binary between
//     tests through TestMain (see Build).
//   - On test failure, the last lines of every process log are written to the test log.
//
// Typical use:
//
//	func TestHeadless(t *testing.T) {
//		testenv.RequireLocust(t)
//		target := testenv.HTTPTarget(t, testenv.TargetOptions{})
//		m := testenv.StartMaster(t, testenv.MasterOptions{
//			Classes: []testenv.Class{{Name: "UserA", Weight: 3}, {Name: "UserB", Weight: 1}},
//			Headless: true, Users: 5, SpawnRate: 2, RunTime: "10s", ExpectWorkers: 1, CSVPrefix: "run",
//		})
//		w := testenv.StartProcess(t, workerBin, []string{"--master-port", strconv.Itoa(m.MasterPort), "--host", target.URL}, nil)
//		m.WaitLog(`All users spawned`, 20*time.Second)
//		if code := m.Wait(30 * time.Second); code != 0 { ... }
//		agg := testenv.CSVAggregated(t, m.CSV("stats"))
//		...
//	}
package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/freeport"
)

const (
	// LocustPath is Debian's Locust (python3-locust 2.12.1).
	LocustPath = "/usr/bin/locust"
	// PythonPath is the interpreter Locust is installed for. A python3 earlier on PATH
	// (pyenv, venv) usually lacks locust, msgpack and zmq.
	PythonPath = "/usr/bin/python3"
	// SkipE2EEnv, set to "1", makes RequireLocust skip instead of fail.
	SkipE2EEnv = "ZKLOAD_SKIP_E2E"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process
// can take it before the caller binds it; StartMaster retries with new ports when that
// happens.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freeport.Port()
	if err != nil {
		t.Fatalf("testenv: no free port: %v", err)
	}
	return p
}

// LocustAvailable reports why a real Locust master cannot run here, or nil if it can:
// /usr/bin/locust must exist and /usr/bin/python3 must import locust, msgpack and zmq.
func LocustAvailable() error {
	if fi, err := os.Stat(LocustPath); err != nil {
		return err
	} else if fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not executable", LocustPath)
	}
	return PythonLocustAvailable()
}

// PythonLocustAvailable reports whether /usr/bin/python3 imports locust, msgpack and
// zmq (what RunPython scripts usually need).
func PythonLocustAvailable() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, PythonPath, "-c", "import locust.rpc.protocol, locust.stats, msgpack, zmq").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s cannot import locust, msgpack and zmq: %v: %s", PythonPath, err, strings.TrimSpace(lastLines(string(out), 3)))
	}
	return nil
}

// RequireLocust makes an end-to-end test fail when no real Locust master is available,
// because CI must run these tests. Setting ZKLOAD_SKIP_E2E=1 skips them instead.
func RequireLocust(t testing.TB) {
	t.Helper()
	if os.Getenv(SkipE2EEnv) == "1" {
		t.Skipf("%s=1: skipping end-to-end test against a real Locust master", SkipE2EEnv)
	}
	if err := LocustAvailable(); err != nil {
		t.Fatalf("testenv: a real Locust master is required: %v\n"+
			"Install it (scripts/setup.sh: apt-get install python3-locust) or set %s=1 to skip end-to-end tests.", err, SkipE2EEnv)
	}
}

// SkipWithoutPythonLocust skips a test that only cross-checks against Python (not an
// end-to-end test) when /usr/bin/python3 cannot import locust.
func SkipWithoutPythonLocust(t testing.TB) {
	t.Helper()
	if err := PythonLocustAvailable(); err != nil {
		t.Skipf("skipping Python cross-check: %v", err)
	}
}

// RunPython runs script with /usr/bin/python3 -c, writes in as JSON to its stdin and
// decodes its stdout as JSON into out (unless out is nil). A script that exits with
// status 77 skips the test (use it for "cannot import"); any other failure, or no answer
// within timeout, fails the test with the script's stderr.
func RunPython(t testing.TB, timeout time.Duration, script string, in, out any) {
	t.Helper()
	runPython(t, nil, timeout, script, in, out)
}

// RunLocustPython is RunPython with the Python packages of Locust release l (its Env:
// the newest's PYTHONPATH), so that the script imports that release's locust.
func RunLocustPython(t testing.TB, l Locust, timeout time.Duration, script string, in, out any) {
	t.Helper()
	runPython(t, l.Env, timeout, script, in, out)
}

func runPython(t testing.TB, env []string, timeout time.Duration, script string, in, out any) {
	t.Helper()
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("testenv.RunPython: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, PythonPath, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("testenv.RunPython: no answer within %v\nstderr:\n%s", timeout, stderr.String())
	case errors.As(err, &ee) && ee.ExitCode() == 77:
		t.Skipf("skipping: %s", strings.TrimSpace(stderr.String()))
	case err != nil:
		t.Fatalf("testenv.RunPython: %v\nstderr:\n%s", err, stderr.String())
	}
	if out == nil {
		return
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("testenv.RunPython: bad JSON answer: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
