package main

// The master's web UI with zkload workers, for each Locust release: a test started and
// stopped through the endpoints the UI's own form and Stop button call, the workers as
// the UI lists them, and a headless-Chromium screenshot of the page.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
)

// uiScreenshotsEnv names a directory that TestWebUIWorkersAndCounts writes its
// screenshots into as locust-ui-<release>.png (scripts/ui-screenshots.sh sets it to
// doc/); unset, they go to the test's temporary directory.
const uiScreenshotsEnv = "ZKLOAD_UI_SCREENSHOTS"

// TestWebUIWorkersAndCounts: a master with its web UI and two zkload workers. A test
// started with the form the UI sends shows both workers running the users each logged,
// and requests in the stats; the UI renders them (screenshot). After the UI's Stop, both
// workers report that they stopped and every request the target served is in the
// master's stats, in the workers' own reports, exactly.
func TestWebUIWorkersAndCounts(t *testing.T) {
	t.Parallel()
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		t.Parallel()
		chromium := requireChromium(t)
		target := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
		m := testenv.StartMaster(t, testenv.MasterOptions{Locust: l, Locustfile: httpLocustfile(t), StopTimeout: time.Second})
		w1 := startWorker(t, m)
		w2 := startWorker(t, m)
		m.WaitReadyWorkers(2, 20*time.Second)
		workers := map[string]*testenv.Proc{nodeID(t, w1): w1, nodeID(t, w2): w2}

		// 5 users: the master gives 3 to one worker and 2 to the other, so the UI's
		// per-worker counts must match each worker, not just the total.
		const users = 5
		mark := m.Mark()
		marks := map[*testenv.Proc]int{w1: w1.Mark(), w2: w2.Mark()}
		res := m.SwarmForm(uiSwarmForm(t, m, l, users, users, target.URL))
		if res["host"] != target.URL {
			t.Errorf("POST /swarm answered host %v, want %s", res["host"], target.URL)
		}
		m.WaitLogAfter(mark, fmt.Sprintf(`All users spawned: .*\(%d total users\)`, users), 20*time.Second)
		logged := map[string]int{}
		for id, w := range workers {
			w.WaitLogAfter(marks[w], `spawned users`, 10*time.Second)
			logged[id] = spawnedHTTPUsers(t, w)
		}
		if a, b := logged[nodeID(t, w1)], logged[nodeID(t, w2)]; min(a, b) != 2 || max(a, b) != 3 {
			t.Fatalf("workers logged %v users, want %d split 3 and 2", logged, users)
		}

		st := waitWebStats(t, m, "the UI lists both workers running the users they logged, and requests", func(s testenv.WebStats) bool {
			return s.State == "running" && s.UserCount == users && s.Aggregated().NumRequests > 0 &&
				workersMatch(s.Workers, logged, "running")
		})
		if row, ok := webRow(st, "GET", "/"); !ok || row.NumRequests == 0 || row.NumFailures != 0 {
			t.Errorf("stats rows %+v, want GET / with requests and no failures", st.Stats)
		}

		checkUIInBrowser(t, chromium, m, l, logged)

		// The UI's Stop button: GET /stop. Each worker sends its last report, then
		// client_stopped, which the master logs with its id.
		mark = m.Mark()
		m.StopTest()
		stopped := m.WaitLogCountAfter(mark, `reported that it has stopped`, 2, 15*time.Second)
		for id := range workers {
			if !strings.Contains(strings.Join(stopped, "\n"), id+" (index") {
				t.Errorf("no worker %s among those the master says stopped:\n%s", id, strings.Join(stopped, "\n"))
			}
		}
		// The report came before client_stopped, so the master's stats are final now.
		served := target.Total()
		if counted := webCSVAggregated(t, m); served == 0 || counted != served {
			t.Errorf("after the stop the target served %d requests, the master's stats hold %d", served, counted)
		}
		waitWebStats(t, m, "the master stopped, its workers registered again without users", func(s testenv.WebStats) bool {
			return s.State == "stopped" && s.UserCount == 0 && workersMatch(s.Workers, map[string]int{nodeID(t, w1): 0, nodeID(t, w2): 0}, "")
		})
		if target.Total() != served {
			t.Errorf("the target served %d requests after the stop", target.Total()-served)
		}

		// The workers' own totals, logged as they quit, are the same requests.
		var reported int64
		for _, w := range []*testenv.Proc{w1, w2} {
			w.Signal(syscall.SIGTERM)
			if code := w.Wait(15 * time.Second); code != 0 {
				t.Errorf("%s exit code %d after SIGTERM, want 0", w.Label, code)
			}
			r, f := workerReported(t, w)
			reported += r
			if f != 0 {
				t.Errorf("%s reported %d failures", w.Label, f)
			}
		}
		if reported != served {
			t.Errorf("workers reported %d requests, the target served %d", reported, served)
		}
		m.CheckAlive(5 * time.Second)
	})
}

var nodeRx = regexp.MustCompile(`msg="worker started" node=(\S+)`)

// nodeID is the id a zkload worker gives the master, from its log.
func nodeID(t *testing.T, w *testenv.Proc) string {
	t.Helper()
	return nodeRx.FindStringSubmatch(w.WaitLog(nodeRx.String(), 10*time.Second))[1]
}

var spawnedRx = regexp.MustCompile(`spawned users.*counts=map\[Http:(\d+)\]`)

// spawnedHTTPUsers is the number of Http users a worker last said it runs.
func spawnedHTTPUsers(t *testing.T, w *testenv.Proc) int {
	t.Helper()
	lines := w.LogLines(spawnedRx.String())
	if len(lines) == 0 {
		t.Fatalf("%s logged no spawn of Http users:\n%s", w.Label, w.Log())
	}
	n, _ := strconv.Atoi(spawnedRx.FindStringSubmatch(lines[len(lines)-1])[1])
	return n
}

// workersMatch reports whether the UI's worker list is exactly the given ids with those
// user counts (and that state, unless state is empty).
func workersMatch(ws []testenv.WebWorker, users map[string]int, state string) bool {
	if len(ws) != len(users) {
		return false
	}
	for _, w := range ws {
		n, ok := users[w.ID]
		if !ok || w.UserCount != n || (state != "" && w.State != state) {
			return false
		}
	}
	return true
}

func webRow(s testenv.WebStats, method, name string) (testenv.WebStatsEntry, bool) {
	for _, e := range s.Stats {
		if e.Method != nil && *e.Method == method && e.Name == name {
			return e, true
		}
	}
	return testenv.WebStatsEntry{}, false
}

// waitWebStats polls /stats/requests (Locust caches it for up to 2 s) until ok holds.
func waitWebStats(t *testing.T, m *testenv.Master, what string, ok func(testenv.WebStats) bool) testenv.WebStats {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := m.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: /stats/requests still says state %q, %d users, workers %+v, stats %+v",
				what, s.State, s.UserCount, s.Workers, s.Stats)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// webGet fetches a path of the master's web UI.
func webGet(t *testing.T, m *testenv.Master, path string) []byte {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(m.WebURL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", path, resp.Status, err)
	}
	return b
}

// webCSVAggregated is the Request Count of the Aggregated row of the UI's "Download
// Data" statistics CSV (/stats/requests/csv, computed per request, not cached).
func webCSVAggregated(t *testing.T, m *testenv.Master) int64 {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(string(webGet(t, m, "/stats/requests/csv")))).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("/stats/requests/csv: %d records, %v", len(recs), err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, r := range recs[1:] {
		if r[col["Type"]] == "" && r[col["Name"]] == "Aggregated" {
			n, err := strconv.ParseInt(r[col["Request Count"]], 10, 64)
			if err != nil {
				t.Fatalf("/stats/requests/csv: Aggregated Request Count %q: %v", r[col["Request Count"]], err)
			}
			return n
		}
	}
	t.Fatalf("/stats/requests/csv has no Aggregated row: %v", recs)
	return 0
}

// legacyUI reports whether the master serves Locust's server-rendered UI (2.12.1)
// rather than the React one.
func legacyUI(t *testing.T, m *testenv.Master) bool {
	t.Helper()
	return swarmFormRx.Match(webGet(t, m, "/"))
}

var (
	swarmFormRx = regexp.MustCompile(`(?s)<form action="\./swarm" method="POST" id="swarm_form">(.*?)</form>`)
	inputRx     = regexp.MustCompile(`<input [^>]*>`)
	attrRx      = regexp.MustCompile(`(\w+)(?:="([^"]*)")?`)
	templateRx  = regexp.MustCompile(`window\.templateArgs = (\{.*\})`)
)

// uiSwarmForm returns the form the master's start page posts to /swarm, read from that
// page, with users, rate and host typed in. 2.12.1 renders an HTML form: its enabled
// inputs (user_count, spawn_rate, host, run_time and any custom options) are sent as
// they are (jQuery's serialize). The newest renders its form in React from
// window.templateArgs and sends (SwarmForm.tsx, snake-cased): user_count, spawn_rate,
// host, run_time, profile, each custom option shown, and user_classes only with the
// class picker.
func uiSwarmForm(t *testing.T, m *testenv.Master, l testenv.Locust, users int, rate float64, host string) url.Values {
	t.Helper()
	page := string(webGet(t, m, "/"))
	form := url.Values{}
	if fm := swarmFormRx.FindStringSubmatch(page); fm != nil {
		if strings.Contains(fm[1], "<select") {
			// The class picker's lists (--class-picker), which this test does not use.
			t.Fatalf("the %s UI's start form has a <select>, which uiSwarmForm does not read:\n%s", l.Version, fm[1])
		}
		for _, in := range inputRx.FindAllString(fm[1], -1) {
			attrs := map[string]string{}
			for _, a := range attrRx.FindAllStringSubmatch(in[len("<input "):], -1) {
				attrs[a[1]] = a[2]
			}
			if _, off := attrs["disabled"]; off || attrs["name"] == "" {
				continue
			}
			form.Add(attrs["name"], html.UnescapeString(attrs["value"]))
		}
	} else if tm := templateRx.FindStringSubmatch(page); tm != nil {
		var args struct {
			ShowUserclassPicker  bool                      `json:"show_userclass_picker"`
			AvailableUserClasses []string                  `json:"available_user_classes"`
			ExtraOptions         map[string]map[string]any `json:"extra_options"`
		}
		if err := json.Unmarshal([]byte(tm[1]), &args); err != nil {
			t.Fatalf("window.templateArgs of the %s UI: %v", l.Version, err)
		}
		for _, k := range []string{"user_count", "spawn_rate", "host", "run_time", "profile"} {
			form.Set(k, "")
		}
		for k, o := range args.ExtraOptions {
			if d := o["default_value"]; d != nil {
				form.Set(k, fmt.Sprint(d))
			} else {
				form.Set(k, "")
			}
		}
		if args.ShowUserclassPicker {
			form["user_classes"] = args.AvailableUserClasses
		}
	} else {
		t.Fatalf("the %s UI's start page has neither the swarm form nor window.templateArgs:\n%s", l.Version, page)
	}
	for _, k := range []string{"user_count", "spawn_rate", "host"} {
		if _, ok := form[k]; !ok {
			t.Fatalf("the %s UI's start form has no %s field: %v", l.Version, k, form)
		}
	}
	form.Set("user_count", strconv.Itoa(users))
	form.Set("spawn_rate", strconv.FormatFloat(rate, 'g', -1, 64))
	form.Set("host", host)
	return form
}

// requireChromium returns headless Chromium's path (scripts/setup.sh --test installs it).
func requireChromium(t *testing.T) string { return testenv.RequireChromium(t) }

// runChromium runs headless Chromium on a page with a profile of its own (instances of
// parallel tests must not share one) and gives it 5 s of virtual time: the UIs fetch
// their stats with JavaScript after the page loads (the newest renders everything so).
func runChromium(t *testing.T, chromium string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + t.TempDir(),
		"--virtual-time-budget=5000"}, args...)
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, chromium, all...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// checkUIInBrowser loads the master's UI in headless Chromium: the page as rendered
// must list each worker running the users it logged and show the Aggregated row, and a
// screenshot of the statistics page must not be blank. The screenshot goes to
// $ZKLOAD_UI_SCREENSHOTS/locust-ui-<release>.png when that is set.
func checkUIInBrowser(t *testing.T, chromium string, m *testenv.Master, l testenv.Locust, users map[string]int) {
	t.Helper()
	// 2.12.1 fills every tab's table (hidden or not); the newest renders only the
	// current tab, chosen by ?tab=.
	pages := map[string]string{"/": "both"}
	if !legacyUI(t, m) {
		pages = map[string]string{"/?tab=stats": "stats", "/?tab=workers": "workers"}
	}
	for p, shows := range pages {
		dom := string(runChromium(t, chromium, "--dump-dom", m.WebURL()+p))
		if shows != "stats" {
			for id, n := range users {
				row := regexp.MustCompile(regexp.QuoteMeta(id) + `</td>\s*<td[^>]*>running</td>\s*<td[^>]*>` + strconv.Itoa(n) + `</td>`)
				if !row.MatchString(dom) {
					t.Errorf("the %s UI (%s) as rendered has no row: worker %s, running, %d users", l.Version, p, id, n)
				}
			}
		}
		if shows != "workers" && !regexp.MustCompile(`>Aggregated<`).MatchString(dom) {
			t.Errorf("the %s UI (%s) as rendered has no Aggregated row", l.Version, p)
		}
	}

	dir := os.Getenv(uiScreenshotsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	shot, err := filepath.Abs(filepath.Join(dir, "locust-ui-"+l.Version+".png"))
	if err != nil {
		t.Fatal(err)
	}
	runChromium(t, chromium, "--window-size=1400,600", "--screenshot="+shot, m.WebURL()+"/")
	checkScreenshot(t, shot)
}

// checkScreenshot fails unless the PNG is a page with content: not one colour, and
// not (nearly) all of one colour as a blank or not yet rendered page is.
func checkScreenshot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 500 {
		t.Errorf("screenshot %s is %dx%d, want the 1400x600 window", path, b.Dx(), b.Dy())
	}
	counts := map[[3]uint32]int{}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			counts[[3]uint32{r >> 12, g >> 12, bl >> 12}]++
		}
	}
	top := 0
	for _, n := range counts {
		top = max(top, n)
	}
	if frac := float64(top) / float64(b.Dx()*b.Dy()); len(counts) < 16 || frac > 0.97 {
		t.Errorf("screenshot %s looks blank: %d colours, %.1f%% of it one colour", path, len(counts), 100*frac)
	}
}
