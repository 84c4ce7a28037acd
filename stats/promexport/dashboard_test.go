package promexport

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/stats/ensemble"
)

// dashboardPath is the Grafana dashboard doc/live.md describes.
const dashboardPath = "../../doc/grafana-zkload.json"

// dashboardExprs returns every PromQL expression of the dashboard's panels.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Inputs []struct{ Name string } `json:"__inputs"`
		Panels []struct {
			Title      string
			Datasource struct{ UID string }
			Targets    []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" {
		t.Errorf("inputs %v: want the data source as DS_PROMETHEUS", d.Inputs)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			if p.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q: data source %q, want ${DS_PROMETHEUS}", p.Title, p.Datasource.UID)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("%d expressions in the dashboard", len(exprs))
	}
	return exprs
}

// TestDashboardMetricsExist: every zkload and process metric the dashboard queries is
// in the endpoint's output (with users, a rate and an ensemble poll given), and, with
// promtool, every expression parses.
func TestDashboardMetricsExist(t *testing.T) {
	exprs := dashboardExprs(t)
	c := newCollector(t)
	c.Shard(0).Record("get", "/a", time.Millisecond, 0, errors.New("x"))
	if err := c.Collect(); err != nil {
		t.Fatal(err)
	}
	var metrics []ensemble.Metric
	for _, g := range newExporter(Options{}).zk {
		metrics = append(metrics, ensemble.Metric{Name: g.zk, Value: "1"})
	}
	reg, err := NewRegistry(Options{Stats: c, NodeID: "n", Command: "worker",
		Users:       func() (int, map[string]int) { return 1, map[string]int{"Get": 1} },
		RateOffered: func() float64 { return 1 },
		Ensemble: func() []ensemble.Sample {
			return []ensemble.Sample{{HostPort: "h:2181", State: "leader", Metrics: metrics}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	text := scrapeText(t, reg)
	names := regexp.MustCompile(`\b(?:zkload|process)_[a-z_]+`)
	seen := 0
	for _, e := range exprs {
		for _, n := range names.FindAllString(e, -1) {
			seen++
			if !strings.Contains(text, "\n"+n+"{") && !strings.Contains(text, "\n"+n+" ") {
				t.Errorf("the dashboard queries %s (%s), which the endpoint does not serve", n, e)
			}
		}
	}
	if seen < 10 {
		t.Errorf("only %d zkload metrics queried", seen)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (Debian package prometheus, scripts/setup.sh --test): the expressions are not parsed")
		return
	}
	// As recording rules, with Grafana's variables filled in, promtool parses them.
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	vars := strings.NewReplacer("$__rate_interval", "1m", "$zk_job", ".+", "$job", ".+")
	for i, e := range exprs {
		rules.WriteString("  - record: dashboard_expr_" + strconv.Itoa(i) + "\n    expr: " + strconv.Quote(vars.Replace(e)) + "\n")
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules (the dashboard's expressions): %v\n%s", err, out)
	}
}
