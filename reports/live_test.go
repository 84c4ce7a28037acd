package reports

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zkload/zkload/fleet"
	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/stats"
)

// TestLivePageWithoutTheChartLibrary: the zkload page of a build without the chart
// library (go build without make web) says so in one line and still shows every table
// from the master's JSON, with no console error and nothing fetched from elsewhere. The
// JSON is what zkload's relay serves: the hub's views as fleet.View.Encode makes them,
// a new one every second.
func TestLivePageWithoutTheChartLibrary(t *testing.T) {
	node, script, chromium := browserTools(t)
	get := stats.NewSummary()
	for us := int64(1); us <= 1000; us++ {
		get.Hist.RecordValue(100 * us)
		get.Requests++
		get.SumNanos += 100_000 * us
		get.MaxNanos = 100_000 * us
	}
	get.MinNanos = 100_000
	view := func(end time.Time) map[string]any {
		return fleet.View{End: end, Width: time.Second, Expected: 2, Users: 4,
			Workers: []fleet.WorkerView{{Index: 0, Node: "host_a", Users: 2, Requests: 500}, {Index: 1, Node: "host_b", Users: 2, Requests: 500}},
			Entries: map[stats.Key]*stats.Summary{{Method: "get", Name: "get"}: get, stats.TotalKey: get},
			Members: []fleet.Member{{HostPort: "127.0.0.1:2181", State: "leader", Up: true, Metrics: map[string]float64{"znode_count": 15}},
				{HostPort: "127.0.0.1:2182", State: "follower", Up: true, Metrics: map[string]float64{}}},
		}.Encode()
	}
	var mu sync.Mutex
	var views []map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("/zkload", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(livePage(nil)))
	})
	mux.HandleFunc("/zkload/fleet.json", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseFloat(r.URL.Query().Get("since"), 64)
		mu.Lock()
		now := time.Now()
		if len(views) == 0 || now.Sub(time.Unix(0, int64(views[len(views)-1]["end"].(float64)*1e9))) >= time.Second {
			views = append(views, view(now))
		}
		var out []map[string]any
		for _, v := range views {
			if v["end"].(float64) > since {
				out = append(out, v)
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"hub": "host_a", "decision": nil, "faults": []any{}, "views": out})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := testenv.RunBrowserScript(t, 2*time.Minute, node, chromium, script, srv.URL+"/zkload", "page")
	var res struct {
		Failure string
		Errors  []string
		Outside []string
		Reads   []struct {
			End         float64
			Ops         []map[string]string
			Workers     []map[string]string
			Members     []map[string]string
			Charts      int
			Interactive bool
			Note        string
		}
	}
	if err := json.Unmarshal(b, &res); err != nil || res.Failure != "" {
		t.Fatalf("%s: %v %s\n%s", script, err, res.Failure, b)
	}
	if len(res.Errors) > 0 || len(res.Outside) > 0 || len(res.Reads) != 2 {
		t.Fatalf("console errors %v, requests to elsewhere %v, %d reads (want none, none, 2)", res.Errors, res.Outside, len(res.Reads))
	}
	want := strconv.FormatInt(get.Percentile(99), 10)
	for i, r := range res.Reads {
		p99 := ""
		for _, o := range r.Ops {
			if o["method"] == "get" {
				p99 = o["p99_us"]
			}
		}
		roles := map[string]string{}
		for _, m := range r.Members {
			roles[m["host_port"]] = m["role"]
		}
		if r.Interactive || r.Charts != 0 || r.Note != liveNote || p99 != want || len(r.Workers) != 2 ||
			roles["127.0.0.1:2181"] != "leader" || roles["127.0.0.1:2182"] != "follower" {
			t.Errorf("read %d: charts %d (library %v), note %q, get p99 %q (want %s), workers %v, members %v",
				i, r.Charts, r.Interactive, r.Note, p99, want, r.Workers, r.Members)
		}
	}
	if res.Reads[1].End <= res.Reads[0].End {
		t.Errorf("the page did not follow the views: window ends %v then %v", res.Reads[0].End, res.Reads[1].End)
	}
}

// browserTools returns node, the page script and Chromium.
func browserTools(t *testing.T) (node, script, chromium string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("web", "browsertest", "live.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	return testenv.RequireNode(t, script), script, testenv.RequireChromium(t)
}
