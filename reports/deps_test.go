package reports

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// goCommand finds the go command: the toolchain's that built this test, else "go" on
// PATH; "" when there is none.
func goCommand() string {
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return ""
}

// TestNoTransportDependency: the report and the statistics build without the worker
// protocol's transport (cgo, libzmq): `go list -deps` of ./reports and ./stats/... names
// neither github.com/pebbe/zmq4 nor boomer nor boomer/transport (boomer/wire, pure Go,
// is allowed).
func TestNoTransportDependency(t *testing.T) {
	goCmd := goCommand()
	if goCmd == "" {
		t.Skip("no go command")
	}
	const mod = "github.com/zkload/zkload"
	cmd := exec.Command(goCmd, "list", "-deps", mod+"/reports", mod+"/stats/...")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, want := range []string{mod + "/reports", mod + "/stats", mod + "/record"} {
		if !slices.Contains(deps, want) {
			t.Fatalf("go list -deps does not list %s: %v", want, deps)
		}
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/pebbe/zmq4") || d == mod+"/boomer" || strings.HasPrefix(d, mod+"/boomer/transport") {
			t.Errorf("reports or stats depend on %s", d)
		}
	}
}
