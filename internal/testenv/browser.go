package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumPath is Debian's Chromium, which scripts/setup.sh --test installs.
const chromiumPath = "/usr/bin/chromium"

// RequireChromium returns headless Chromium's path. Without it the test fails, or
// skips with SkipE2EEnv=1.
func RequireChromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv(SkipE2EEnv) == "1" {
			t.Skipf("no %s", chromiumPath)
		}
		t.Fatalf("no %s: install it with scripts/setup.sh --test (or set %s=1)", chromiumPath, SkipE2EEnv)
	}
	return chromiumPath
}

// RequireNode returns node's path for a browser script (reports/web/browsertest/*.mjs),
// whose npm packages (puppeteer-core) are installed beside it by scripts/setup.sh
// --test. Without them the test fails, or skips with SkipE2EEnv=1.
func RequireNode(t testing.TB, script string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "puppeteer-core"))
	}
	if err != nil {
		if os.Getenv(SkipE2EEnv) == "1" {
			t.Skipf("no node or puppeteer-core: %v", err)
		}
		t.Fatalf("no node or puppeteer-core (%v): install them with scripts/setup.sh --test (or set %s=1)", err, SkipE2EEnv)
	}
	return node
}

// RunBrowserScript runs node on a browser script with its arguments and CHROMIUM set,
// for at most timeout, and returns what it printed on stdout (its JSON). A script that
// fails fails the test with what it printed on stderr.
func RunBrowserScript(t testing.TB, timeout time.Duration, node, chromium, script string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return b
}
