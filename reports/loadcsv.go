package reports

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// LocustStat is one row of Locust's _stats.csv (times in ms, percentiles NaN for N/A).
type LocustStat struct {
	Method, Name          string
	Requests, Failures    int64
	Median, Avg, Min, Max float64
	RPS, FPS              float64
	P50, P90, P99, P999   float64
}

// LocustHistory is one row of Locust's _stats_history.csv.
type LocustHistory struct {
	Time                    time.Time
	Users                   int
	Method, Name            string
	RPS, FPS                float64
	P50, P95, P99, P999     float64
	TotalRequests, Failures int64
}

// LocustFailure is one row of Locust's _failures.csv.
type LocustFailure struct {
	Method, Name, Error string
	Occurrences         int64
}

// ExtRow is one row of an extended-statistics CSV (doc/stats.md): one entry's window on
// one worker. Times in ms.
type ExtRow struct {
	Time                time.Time
	ClientID            string
	Method, Name        string
	Requests, Failures  int64
	Users               int
	P50, P95, P99, P999 float64
	Max                 float64
	IntervalS           float64
}

// MetricRow is one row of the long-form ensemble metrics CSV (doc/metrics.md).
type MetricRow struct {
	Time            time.Time
	HostPort, State string
	Metric, Value   string
}

func fnum(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" || s == "N/A" {
		return math.NaN()
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func inum(s string) int64 {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		f := fnum(s)
		if math.IsNaN(f) {
			return 0
		}
		return int64(f)
	}
	return v
}

func readLocustStats(t *Test, path string) []LocustStat {
	tb := readTable(t, path, "Type", "Name", "Request Count")
	if tb == nil {
		return nil
	}
	var out []LocustStat
	for _, r := range tb.rows {
		out = append(out, LocustStat{
			Method: tb.get(r, "Type"), Name: tb.get(r, "Name"),
			Requests: inum(tb.get(r, "Request Count")), Failures: inum(tb.get(r, "Failure Count")),
			Median: fnum(tb.get(r, "Median Response Time")), Avg: fnum(tb.get(r, "Average Response Time")),
			Min: fnum(tb.get(r, "Min Response Time")), Max: fnum(tb.get(r, "Max Response Time")),
			RPS: fnum(tb.get(r, "Requests/s")), FPS: fnum(tb.get(r, "Failures/s")),
			P50: fnum(tb.get(r, "50%")), P90: fnum(tb.get(r, "90%")), P99: fnum(tb.get(r, "99%")), P999: fnum(tb.get(r, "99.9%")),
		})
	}
	if len(out) == 0 {
		t.problem("%s: no rows", filepath.Base(path))
	}
	return out
}

func readLocustHistory(t *Test, path string) []LocustHistory {
	tb := readTable(t, path, "Timestamp", "User Count", "Name")
	if tb == nil {
		return nil
	}
	var out []LocustHistory
	for _, r := range tb.rows {
		sec := inum(tb.get(r, "Timestamp"))
		out = append(out, LocustHistory{
			Time: time.Unix(sec, 0).UTC(), Users: int(inum(tb.get(r, "User Count"))),
			Method: tb.get(r, "Type"), Name: tb.get(r, "Name"),
			RPS: fnum(tb.get(r, "Requests/s")), FPS: fnum(tb.get(r, "Failures/s")),
			P50: fnum(tb.get(r, "50%")), P95: fnum(tb.get(r, "95%")), P99: fnum(tb.get(r, "99%")), P999: fnum(tb.get(r, "99.9%")),
			TotalRequests: inum(tb.get(r, "Total Request Count")), Failures: inum(tb.get(r, "Total Failure Count")),
		})
	}
	return out
}

func readLocustFailures(t *Test, path string) []LocustFailure {
	tb := readTable(t, path, "Method", "Name", "Error", "Occurrences")
	if tb == nil {
		return nil
	}
	var out []LocustFailure
	for _, r := range tb.rows {
		out = append(out, LocustFailure{Method: tb.get(r, "Method"), Name: tb.get(r, "Name"),
			Error: tb.get(r, "Error"), Occurrences: inum(tb.get(r, "Occurrences"))})
	}
	return out
}

func readExt(t *Test, path string) []ExtRow {
	tb := readTable(t, path, "timestamp", "client_id", "method", "name", "num_requests")
	if tb == nil {
		return nil
	}
	var out []ExtRow
	for _, r := range tb.rows {
		ts, ok := parseTS(tb.get(r, "timestamp"))
		if !ok {
			continue
		}
		out = append(out, ExtRow{
			Time: ts, ClientID: tb.get(r, "client_id"), Method: tb.get(r, "method"), Name: tb.get(r, "name"),
			Requests: inum(tb.get(r, "num_requests")), Failures: inum(tb.get(r, "num_failures")),
			Users: int(inum(tb.get(r, "user_count"))),
			P50:   fnum(tb.get(r, "50%")), P95: fnum(tb.get(r, "95%")), P99: fnum(tb.get(r, "99%")),
			P999: fnum(tb.get(r, "99.9%")), Max: fnum(tb.get(r, "max_response_time")),
			IntervalS: fnum(tb.get(r, "interval_s")),
		})
	}
	if len(out) == 0 {
		t.problem("%s: no rows", filepath.Base(path))
	}
	return out
}

func readMetrics(t *Test, path string) []MetricRow {
	tb := readTable(t, path, "timestamp", "host_port", "server_state", "metric", "value")
	if tb == nil {
		return nil
	}
	var out []MetricRow
	for _, r := range tb.rows {
		ts, ok := parseTS(tb.get(r, "timestamp"))
		if !ok {
			continue
		}
		out = append(out, MetricRow{Time: ts, HostPort: tb.get(r, "host_port"), State: tb.get(r, "server_state"),
			Metric: tb.get(r, "metric"), Value: tb.get(r, "value")})
	}
	if len(out) == 0 {
		t.problem("%s: no rows", filepath.Base(path))
	}
	return out
}
