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

// readRows reads the CSV file at path, which must have the required columns, into one
// T a row; row returns false to pass a row over. With wantRows, a file that gives no
// rows is a problem of t.
func readRows[T any](t *Test, path string, required []string, wantRows bool, row func(tb *table, r []string) (T, bool)) []T {
	tb := readTable(t, path, required...)
	if tb == nil {
		return nil
	}
	var out []T
	for _, r := range tb.rows {
		if v, ok := row(tb, r); ok {
			out = append(out, v)
		}
	}
	if wantRows && len(out) == 0 {
		t.problem("%s: no rows", filepath.Base(path))
	}
	return out
}

func readLocustStats(t *Test, path string) []LocustStat {
	return readRows(t, path, []string{"Type", "Name", "Request Count"}, true, func(tb *table, r []string) (LocustStat, bool) {
		return LocustStat{
			Method: tb.get(r, "Type"), Name: tb.get(r, "Name"),
			Requests: inum(tb.get(r, "Request Count")), Failures: inum(tb.get(r, "Failure Count")),
			Median: fnum(tb.get(r, "Median Response Time")), Avg: fnum(tb.get(r, "Average Response Time")),
			Min: fnum(tb.get(r, "Min Response Time")), Max: fnum(tb.get(r, "Max Response Time")),
			RPS: fnum(tb.get(r, "Requests/s")), FPS: fnum(tb.get(r, "Failures/s")),
			P50: fnum(tb.get(r, "50%")), P90: fnum(tb.get(r, "90%")), P99: fnum(tb.get(r, "99%")), P999: fnum(tb.get(r, "99.9%")),
		}, true
	})
}

func readLocustHistory(t *Test, path string) []LocustHistory {
	return readRows(t, path, []string{"Timestamp", "User Count", "Name"}, false, func(tb *table, r []string) (LocustHistory, bool) {
		sec := inum(tb.get(r, "Timestamp"))
		return LocustHistory{
			Time: time.Unix(sec, 0).UTC(), Users: int(inum(tb.get(r, "User Count"))),
			Method: tb.get(r, "Type"), Name: tb.get(r, "Name"),
			RPS: fnum(tb.get(r, "Requests/s")), FPS: fnum(tb.get(r, "Failures/s")),
			P50: fnum(tb.get(r, "50%")), P95: fnum(tb.get(r, "95%")), P99: fnum(tb.get(r, "99%")), P999: fnum(tb.get(r, "99.9%")),
			TotalRequests: inum(tb.get(r, "Total Request Count")), Failures: inum(tb.get(r, "Total Failure Count")),
		}, true
	})
}

func readLocustFailures(t *Test, path string) []LocustFailure {
	return readRows(t, path, []string{"Method", "Name", "Error", "Occurrences"}, false, func(tb *table, r []string) (LocustFailure, bool) {
		return LocustFailure{Method: tb.get(r, "Method"), Name: tb.get(r, "Name"),
			Error: tb.get(r, "Error"), Occurrences: inum(tb.get(r, "Occurrences"))}, true
	})
}

func readExt(t *Test, path string) []ExtRow {
	return readRows(t, path, []string{"timestamp", "client_id", "method", "name", "num_requests"}, true, func(tb *table, r []string) (ExtRow, bool) {
		ts, ok := parseTS(tb.get(r, "timestamp"))
		return ExtRow{
			Time: ts, ClientID: tb.get(r, "client_id"), Method: tb.get(r, "method"), Name: tb.get(r, "name"),
			Requests: inum(tb.get(r, "num_requests")), Failures: inum(tb.get(r, "num_failures")),
			Users: int(inum(tb.get(r, "user_count"))),
			P50:   fnum(tb.get(r, "50%")), P95: fnum(tb.get(r, "95%")), P99: fnum(tb.get(r, "99%")),
			P999: fnum(tb.get(r, "99.9%")), Max: fnum(tb.get(r, "max_response_time")),
			IntervalS: fnum(tb.get(r, "interval_s")),
		}, ok
	})
}

func readMetrics(t *Test, path string) []MetricRow {
	return readRows(t, path, []string{"timestamp", "host_port", "server_state", "metric", "value"}, true, func(tb *table, r []string) (MetricRow, bool) {
		ts, ok := parseTS(tb.get(r, "timestamp"))
		return MetricRow{Time: ts, HostPort: tb.get(r, "host_port"), State: tb.get(r, "server_state"),
			Metric: tb.get(r, "metric"), Value: tb.get(r, "value")}, ok
	})
}
