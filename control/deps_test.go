package control_test

import (
	"go/build"
	"strings"
	"testing"
)

// The package stays low in the layers (doc/architecture.md): it imports the standard
// library, stats and hdrhistogram, nothing of the worker, the workloads or the command.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		switch {
		case !strings.Contains(first, "."): // the standard library
		case imp == "github.com/zkload/zkload/stats", imp == "github.com/HdrHistogram/hdrhistogram-go":
		default:
			t.Errorf("control imports %s", imp)
		}
	}
}
