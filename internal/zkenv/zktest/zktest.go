// Package zktest starts ZooKeeper servers (see zkenv) for tests, stopped at cleanup.
package zktest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/zkenv"
)

// SkipEnv, set to "1", makes Require skip instead of fail when ZooKeeper is missing.
const SkipEnv = "ZKLOAD_SKIP_ZK"

// Require fails the test (or skips it, with ZKLOAD_SKIP_ZK=1) when ZooKeeper cannot run.
func Require(t testing.TB) {
	t.Helper()
	if err := zkenv.Available(); err != nil {
		if os.Getenv(SkipEnv) == "1" {
			t.Skipf("zktest: %v", err)
		}
		t.Fatalf("zktest: %v (set %s=1 to skip)", err, SkipEnv)
	}
}

// Start starts an ensemble of n members (1: standalone) and stops it at cleanup; on
// failure, the tail of each member's log is written to the test log.
func Start(t testing.TB, n int) *zkenv.Ensemble {
	t.Helper()
	return StartOptions(t, zkenv.Options{Members: n})
}

// StartOptions is Start with every option (Dir defaults to a fresh temporary directory).
// Tests' servers run with QuickJIT: they start faster and leave CPU to the other tests.
func StartOptions(t testing.TB, o zkenv.Options) *zkenv.Ensemble {
	t.Helper()
	Require(t)
	o.QuickJIT = true
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, err := zkenv.Start(ctx, o)
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("zktest: %v", err)
		}
		if t.Failed() {
			for _, m := range e.Members() {
				b, _ := os.ReadFile(m.LogPath())
				t.Logf("zktest: last lines of member %d log:\n%s", m.ID, tail(string(b), 8))
			}
		}
	})
	return e
}

func tail(s string, n int) string {
	end := len(s)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' && i != len(s)-1 {
			n--
			if n == 0 {
				return s[i+1 : end]
			}
		}
	}
	return s
}
