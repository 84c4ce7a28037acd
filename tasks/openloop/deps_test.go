package openloop

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the pacer needs nothing of zkload but record, so that a controller
// or a workload can use it without the worker protocol (boomer, the ZeroMQ transport).
func TestDependencies(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, d := range strings.Fields(string(out)) {
		switch d {
		case "github.com/zkload/zkload/tasks/openloop", "github.com/zkload/zkload/record":
		default:
			t.Errorf("openloop depends on %s", d)
		}
	}
}
