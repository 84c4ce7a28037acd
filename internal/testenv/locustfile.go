package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Class is a user class the master should know: its name must equal the Go worker's
// user type name, and its weight drives how the master splits users between classes.
type Class struct {
	Name   string
	Weight int
	// FixedCount, if > 0, sets the class's fixed_count (that many users regardless of
	// weight).
	FixedCount int
}

var pyIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var pyKeywords = map[string]bool{"False": true, "None": true, "True": true, "and": true, "as": true,
	"assert": true, "async": true, "await": true, "break": true, "class": true, "continue": true, "def": true,
	"del": true, "elif": true, "else": true, "except": true, "finally": true, "for": true, "from": true,
	"global": true, "if": true, "import": true, "in": true, "is": true, "lambda": true, "nonlocal": true,
	"not": true, "or": true, "pass": true, "raise": true, "return": true, "try": true, "while": true,
	"with": true, "yield": true, "User": true, "task": true, "constant": true}

// LocustfileSource returns the source of a master-side locustfile: one dummy User
// subclass per class, with its weight and a no-op task. The master never runs them; it
// only needs their names and weights to dispatch users to workers.
func LocustfileSource(classes []Class) (string, error) {
	if len(classes) == 0 {
		return "", fmt.Errorf("no user classes")
	}
	var b strings.Builder
	b.WriteString("# Master-side locustfile written by zkload's testenv: the master only needs\n")
	b.WriteString("# the class names and weights; the Go workers run the real users.\n")
	b.WriteString("from locust import User, task, constant\n")
	seen := map[string]bool{}
	for _, c := range classes {
		if !pyIdent.MatchString(c.Name) || pyKeywords[c.Name] {
			return "", fmt.Errorf("class name %q is not a usable Python identifier", c.Name)
		}
		if seen[c.Name] {
			return "", fmt.Errorf("class %q given twice", c.Name)
		}
		seen[c.Name] = true
		if c.Weight < 0 || c.FixedCount < 0 {
			return "", fmt.Errorf("class %q: negative weight or fixed count", c.Name)
		}
		fmt.Fprintf(&b, "\n\nclass %s(User):\n    weight = %d\n", c.Name, c.Weight)
		if c.FixedCount > 0 {
			fmt.Fprintf(&b, "    fixed_count = %d\n", c.FixedCount)
		}
		b.WriteString("    wait_time = constant(1)\n\n    @task\n    def noop(self):\n        pass\n")
	}
	return b.String(), nil
}

// WriteLocustfile writes LocustfileSource(classes) to a new file in t.TempDir() and
// returns its path.
func WriteLocustfile(t testing.TB, classes []Class) string {
	t.Helper()
	src, err := LocustfileSource(classes)
	if err != nil {
		t.Fatalf("testenv.WriteLocustfile: %v", err)
	}
	path := filepath.Join(t.TempDir(), "locustfile.py")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatalf("testenv.WriteLocustfile: %v", err)
	}
	return path
}
