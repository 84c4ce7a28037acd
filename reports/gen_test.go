package reports

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/stats"
	"github.com/zkload/zkload/stats/ensemble"
	"github.com/zkload/zkload/tasks/openloop"
)

// t0 is the generated runs' start.
var t0 = time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)

// genRun describes a generated run directory.
type genRun struct {
	label   string  // test label; "" for the `zkload run --report-dir` layout
	workers int     // extended-statistics files, one per worker
	seconds int     // windows per worker
	slow    float64 // latency factor
	runJSON bool
	// tags, if set, make the layout of workers sharing a directory (`zkload worker
	// --report-dir`): one worker per tag, each with its own ext_stats_<tag>.csv,
	// ext_distrib_<tag>.jsonl, zk_metrics_<tag>.csv (its polls 250 ms after the
	// previous worker's), worker_<tag>.log and worker_<tag>.json. label must be "".
	tags []string
	// lag, if set, records an open loop's schedule lag beside the requests: 10 late
	// starts a second per worker, 1 to 10 ms late.
	lag bool
}

// worker returns the file name suffix of worker w (from 1): its tag or its number.
func (g genRun) worker(w int) string {
	if len(g.tags) > 0 {
		return g.tags[w-1]
	}
	return fmt.Sprint(w)
}

// fileName names a file in either layout.
func (g genRun) fileName(suffix string) string {
	if g.label == "" {
		switch suffix {
		case "_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv":
			return "locust" + suffix
		}
		return strings.TrimPrefix(suffix, "_")
	}
	return g.label + suffix
}

// writeRun writes a run directory as scripts/suite.sh (or zkload run --report-dir)
// leaves it, through the stats and ensemble packages' own writers.
func writeRun(t *testing.T, dir string, g genRun) {
	t.Helper()
	var total, fails int64
	if len(g.tags) > 0 {
		g.workers = len(g.tags)
	}
	for w := 1; w <= g.workers; w++ {
		now := t0.Add(time.Duration(w) * 137 * time.Millisecond)
		c, err := stats.New(stats.Options{
			Interval: time.Second, ClientID: fmt.Sprintf("host_%032x", w),
			CSVPath:     filepath.Join(dir, g.fileName("_ext_stats_"+g.worker(w)+".csv")),
			DistribPath: filepath.Join(dir, g.fileName("_ext_distrib_"+g.worker(w)+".jsonl")),
			Users:       func() int { return 4 }, Shards: 1, Now: func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := c.Shard(0)
		for s := 0; s < g.seconds; s++ {
			for i := 0; i < 1000; i++ {
				d := time.Duration(float64(100+i*i/10)*g.slow) * time.Microsecond
				var err error
				if i%200 == 0 && s == 2 {
					err = errors.New("zk: connection closed")
					fails++
				}
				method := "get"
				if i%4 == 0 {
					method = "set"
				}
				rec.Record(method, "SetAndGet", d, 8, err)
				total++
			}
			for i := 1; g.lag && i <= 10; i++ {
				rec.Record(openloop.ScheduleLag, "SetAndGet", time.Duration(i)*time.Millisecond, 0, nil)
			}
			now = now.Add(time.Second)
			if err := c.Collect(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Locust's files (as a master writes them; numbers need not match exactly).
	write(t, filepath.Join(dir, g.fileName("_stats.csv")),
		"Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n"+
			fmt.Sprintf("get,SetAndGet,%d,0,2,3.1,0.1,10.1,8.0,100.0,0.0,2,3,4,5,6,7,8,9,10,10,10\r\n", total*3/4)+
			fmt.Sprintf("set,SetAndGet,%d,%d,2,3.1,0.1,10.1,8.0,100.0,0.0,2,3,4,5,6,7,8,9,10,10,10\r\n", total/4, fails)+
			fmt.Sprintf(",Aggregated,%d,%d,2,3.1,0.1,10.1,8.0,100.0,0.0,2,3,4,5,6,7,8,9,10,10,10\r\n", total, fails))
	hist := "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size\r\n"
	for s := 0; s <= g.seconds; s++ {
		hist += fmt.Sprintf("%d,%d,,Aggregated,%d.000000,0.000000,2,3,4,5,6,7,8,9,10,10,10,%d,0,2,3.1,0,10,8\r\n", t0.Unix()+int64(s), 4*g.workers, 1000*g.workers, s*1000*g.workers)
	}
	write(t, filepath.Join(dir, g.fileName("_stats_history.csv")), hist)
	write(t, filepath.Join(dir, g.fileName("_failures.csv")), fmt.Sprintf("Method,Name,Error,Occurrences\r\nset,SetAndGet,ConnectionClosedError(),%d\r\n", fails))
	write(t, filepath.Join(dir, g.fileName("_exceptions.csv")), "Count,Message,Traceback,Nodes\r\n")
	// Ensemble metrics: one file, or one per worker of a shared directory.
	if len(g.tags) == 0 {
		writeMetrics(t, filepath.Join(dir, g.fileName("_zk_metrics.csv")), g, 0)
	}
	for i, tag := range g.tags {
		writeMetrics(t, filepath.Join(dir, "zk_metrics_"+tag+".csv"), g, time.Duration(i)*250*time.Millisecond)
		write(t, filepath.Join(dir, "worker_"+tag+".log"), "worker "+tag+" registered with master\n")
		write(t, filepath.Join(dir, "worker_"+tag+".json"), `{"command":["zkload","worker","Get"],"tests":["Get"],"node_id":"`+tag+`"}`)
	}
	if g.runJSON {
		label := g.label
		if label == "" {
			label = "set_and_get"
		}
		write(t, filepath.Join(dir, "run.json"), fmt.Sprintf(`{"command":["zkload","run","SetAndGet"],"start":%q,"end":%q,
"settings":{"users":"8","spawn_rate":"8"},"versions":{"zkload":"v0.test","go":"go1.26","locust":"2.12.1","zookeeper":"3.8.0"},
"ensemble":"zk1:2181,zk2:2181,zk3:2181","tests":[%q]}`, t0.Format(time.RFC3339), t0.Add(time.Duration(g.seconds+1)*time.Second).Format(time.RFC3339), label))
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeMetrics writes an ensemble metrics file as one poller would, its polls offset
// from t0 by offset: three members; the leader (member 1) stops serving at 3 s and
// member 2 takes over.
func writeMetrics(t *testing.T, path string, g genRun, offset time.Duration) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := ensemble.NewCSVWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"zk1:2181", "zk2:2181", "zk3:2181"}
	for s := 0; s <= g.seconds; s++ {
		var samples []ensemble.Sample
		for i, h := range hosts {
			state := "follower"
			if (s < 3 && i == 0) || (s >= 3 && i == 1) {
				state = "leader"
			}
			sm := ensemble.Sample{Time: t0.Add(time.Duration(s)*time.Second + offset), HostPort: h, Source: "mntr", State: state}
			if i == 0 && s == 3 {
				sm.State, sm.Err = "", errors.New("This ZooKeeper instance is not currently serving requests")
			} else {
				sm.Metrics = []ensemble.Metric{
					{Name: "server_state", Value: state},
					{Name: "outstanding_requests", Value: fmt.Sprint(s % 3)},
					{Name: "num_alive_connections", Value: fmt.Sprint(2 * g.workers)},
					{Name: "znode_count", Value: fmt.Sprint(100 + s)},
					{Name: "ephemerals_count", Value: "4"},
					{Name: "watch_count", Value: fmt.Sprint(10 * s)},
					{Name: "packets_received", Value: fmt.Sprint(1000 * s * (i + 1)), Counter: true},
					{Name: "packets_sent", Value: fmt.Sprint(1100 * s * (i + 1)), Counter: true},
					{Name: "cnt_readlatency", Value: fmt.Sprint(500 * s), Counter: true},
					{Name: "sum_readlatency", Value: fmt.Sprint(100 * s * s), Counter: true},
				}
			}
			samples = append(samples, sm)
		}
		if err := w.Write(samples); err != nil {
			t.Fatal(err)
		}
	}
}
