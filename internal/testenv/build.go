package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"testing"
)

// Build compiles the main package pkg (an import path such as
// "github.com/zkload/zkload/zkload", or a relative path) into dir and returns the
// binary's path. Extra go build flags (e.g. "-race") go in flags. It needs no
// *testing.T, so that TestMain can build once for a whole test package:
//
//	var workerBin string
//
//	func TestMain(m *testing.M) {
//		dir, err := os.MkdirTemp("", "zkload-e2e-")
//		if err != nil {
//			log.Fatal(err)
//		}
//		workerBin, err = testenv.Build(dir, "github.com/zkload/zkload/zkload")
//		if err != nil {
//			log.Fatal(err)
//		}
//		code := m.Run()
//		os.RemoveAll(dir)
//		os.Exit(code)
//	}
//
// Repeated builds are cheap anyway (Go's build cache makes them a link step), so
// calling BuildBinary from a sync.Once in the test file works too; building per test
// costs about a second each.
func Build(dir, pkg string, flags ...string) (string, error) {
	out := filepath.Join(dir, path.Base(pkg))
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.Command(goTool(), append(args, pkg)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out, nil
}

// BuildBinary is Build into a fresh t.TempDir(), failing the test on error. The binary
// is removed when the test ends; see Build for sharing one binary between tests.
func BuildBinary(t testing.TB, pkg string, flags ...string) string {
	t.Helper()
	bin, err := Build(t.TempDir(), pkg, flags...)
	if err != nil {
		t.Fatalf("testenv.BuildBinary: %v", err)
	}
	return bin
}

// goTool finds the go command: the one of the toolchain that built this test if it is
// there, else "go" from PATH.
func goTool() string {
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}
