package recorder

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"sync"
	"testing"
)

// systemPython is Debian's python3, which has Locust 2.12.1 (python3-locust)
// importable. The python3 first on PATH may be another interpreter without it.
const systemPython = "/usr/bin/python3"

var (
	locustOnce sync.Once
	locustErr  error
)

// needLocust skips the test unless systemPython can import locust.
func needLocust(t *testing.T) {
	t.Helper()
	locustOnce.Do(func() {
		cmd := exec.Command(systemPython, "-I", "-c", "import locust.stats, msgpack")
		cmd.Dir = t.TempDir()
		if out, err := cmd.CombinedOutput(); err != nil {
			locustErr = &pythonError{err: err, stderr: string(out)}
		}
	})
	if locustErr != nil {
		t.Skipf("%s cannot import locust: %v", systemPython, locustErr)
	}
}

type pythonError struct {
	err    error
	stderr string
}

func (e *pythonError) Error() string { return e.err.Error() + ": " + e.stderr }

// runLocustPython runs script under systemPython with input as JSON on stdin and
// decodes its stdout as JSON into output. -I keeps the caller's environment and
// working directory (which could shadow modules) out of Python's import path.
func runLocustPython(t *testing.T, script string, input, output any) {
	t.Helper()
	needLocust(t)
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(systemPython, "-I", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), output); err != nil {
		t.Fatalf("python output: %v\n%s", err, stdout.String())
	}
}
