package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/internal/zkenv"
)

// TestSuiteReport runs scripts/suite.sh for one short test, which ends by writing
// OUT/report/report.html, then `zkload report` on two runs (the second with a CSV cut
// short and a distribution file missing) for a comparison.
func TestSuiteReport(t *testing.T) {
	testenv.RequireLocust(t)
	if err := zkenv.Available(); err != nil {
		t.Fatalf("ZooKeeper is required: %v", err)
	}
	t.Parallel()
	out := t.TempDir()
	p := testenv.StartProcessOptions(t, testenv.ProcOptions{
		Path: "bash", Args: []string{filepath.Join(repoRoot(t), "scripts", "suite.sh"), "get"},
		Env: []string{"ZKLOAD=" + zkloadBin, "OUT=" + out, "RUN_TIME=4s", "USERS=4", "SPAWN_RATE=4", "WORKERS=2", "ZK_LOCUST_HOSTS="},
		Dir: repoRoot(t), LogPath: filepath.Join(t.TempDir(), "suite.log"),
	})
	if code := p.Wait(120 * time.Second); code != 0 {
		t.Fatalf("suite.sh get: exit %d\n%s", code, p.Log())
	}
	page := reportPage(t, filepath.Join(out, "report"))
	for _, want := range []string{"<h3>Summary</h3>", "<td>get</td><td>get</td><td>get</td>", "Worst tail: get get",
		"get: ensemble", "Every ensemble member answered every poll."} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(page, "Problems") {
		t.Errorf("the suite's run has problems:\n%s", p.Log())
	}
	checkInBrowser(t, filepath.Join(out, "report", "report.html"))

	// A damaged copy of the run, compared with the original.
	damaged := t.TempDir()
	files, _ := filepath.Glob(filepath.Join(out, "get*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a directory
		}
		if strings.HasSuffix(f, "_ext_distrib_2.jsonl") {
			continue
		}
		if strings.HasSuffix(f, "_ext_stats_1.csv") {
			// cut in the middle of a row, as a killed worker would leave it
			cut := strings.LastIndexByte(string(b[:len(b)*2/3]), '\n') + 20
			b = b[:cut]
		}
		if err := os.WriteFile(filepath.Join(damaged, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmp := filepath.Join(t.TempDir(), "cmp")
	log := runZkload(t, 0, "report", "--out", cmp, "--label", "full", "--label", "damaged", out, damaged)
	if !strings.Contains(log, "get_ext_stats_1.csv: 1 truncated row(s) ignored") {
		t.Errorf("zkload report does not say what was damaged:\n%s", log)
	}
	page = reportPage(t, cmp)
	for _, want := range []string{"Comparison (against full)", "Problems", "get_ext_stats_1.csv: 1 truncated row(s) ignored"} {
		if !strings.Contains(page, want) {
			t.Errorf("comparison report lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(cmp, "report.md")); err != nil {
		t.Error(err)
	}
	runZkload(t, 2, "report")
	runZkload(t, 2, "report", "--label", "a", out, damaged)
}

// reportPage reads DIR/report.html and checks that every figure of report.md exists.
func reportPage(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	figs := regexp.MustCompile(`\]\((figures/[^)]+)\)`).FindAllStringSubmatch(string(md), -1)
	if len(figs) == 0 {
		t.Error("report.md has no figures")
	}
	for _, f := range figs {
		if _, err := os.Stat(filepath.Join(dir, f[1])); err != nil {
			t.Errorf("report.md: %v", err)
		}
	}
	if n := strings.Count(string(b), "<img "); n != len(figs) {
		t.Errorf("report.html has %d images, report.md %d figures", n, len(figs))
	}
	return string(b)
}

// checkInBrowser opens the report in headless Chromium (scripts/setup.sh --test
// installs it): every image must have loaded, and a screenshot is taken (kept with the
// test's logs).
func checkInBrowser(t *testing.T, report string) {
	chromium := requireChromium(t)
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	probe := `<script>window.addEventListener("load", () => {
  const imgs = [...document.images];
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-broken", imgs.filter(i => !i.complete || i.naturalWidth === 0).length);
});</script></body>`
	dir := t.TempDir()
	check := filepath.Join(dir, "check.html")
	if err := os.WriteFile(check, []byte(strings.Replace(string(b), "</body>", probe, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"}
	dom, err := exec.CommandContext(ctx, chromium, append(args, "--dump-dom", "file://"+check)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	m := regexp.MustCompile(`data-images="(\d+)" data-broken="(\d+)"`).FindStringSubmatch(string(dom))
	if m == nil || m[1] == "0" || m[2] != "0" {
		t.Errorf("images in Chromium: %v", m)
	}
	shot := filepath.Join(dir, "report.png")
	if out, err := exec.CommandContext(ctx, chromium, append(args, "--window-size=1200,2400", "--screenshot="+shot, "file://"+report)...).CombinedOutput(); err != nil {
		t.Errorf("chromium --screenshot: %v\n%s", err, out)
	} else if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}
