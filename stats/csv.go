package stats

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"
)

// TimeFormat is the layout of timestamps in both files: UTC with microseconds, as
// zk-locust's %Y-%m-%dT%H:%M:%S.%fZ.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Percentiles are the percentile columns zk-locust writes (50% … 100%); zkload adds
// ExtraPercentiles after them.
var (
	Percentiles      = []float64{50, 66, 75, 80, 90, 95, 98, 99, 100}
	ExtraPercentiles = []float64{99.9, 99.99}
)

// ZKLocustColumns are zk-locust's --stats-csv columns, in order; every row starts with
// them. The time columns hold the window's statistics (see doc/stats.md).
var ZKLocustColumns = []string{
	"timestamp", "client_id", "method", "name", "num_requests", "num_failures",
	"median_response_time", "avg_response_time", "min_response_time", "max_response_time",
	"avg_content_length", "total_rps", "user_count", "errors",
	"50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "100%",
}

// Columns returns the full header of the time-series CSV: ZKLocustColumns, then
// zkload's windowed extras, then the cumulative-since-start columns (prefixed cum_).
func Columns() []string {
	cols := append([]string(nil), ZKLocustColumns...)
	cols = append(cols, "99.9%", "99.99%", "interval_start", "interval_s", "rps", "failures_per_s")
	cols = append(cols, "cum_num_requests", "cum_num_failures", "cum_median_response_time",
		"cum_avg_response_time", "cum_min_response_time", "cum_max_response_time",
		"cum_avg_content_length", "cum_errors")
	for _, p := range append(append([]float64(nil), Percentiles...), ExtraPercentiles...) {
		cols = append(cols, "cum_"+pctName(p))
	}
	return cols
}

func pctName(p float64) string { return strconv.FormatFloat(p, 'f', -1, 64) + "%" }

func csvHeader() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(Columns())
	w.Flush()
	return b.Bytes()
}

// ms formats microseconds as milliseconds with microsecond precision.
func ms(us int64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 3, 64) }

// nsMS formats nanoseconds as milliseconds rounded to the microsecond.
func nsMS(ns float64) string { return strconv.FormatFloat(ns/1e6, 'f', 3, 64) }

func num(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }

func errorsJSON(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m) // keys sorted
	if err != nil {
		return ""
	}
	return string(b)
}

// writeRows appends one CSV row per key: the window's statistics, then the cumulative ones.
func writeRows(b *bytes.Buffer, iv interval, keys []Key, win, cum map[Key]*Summary) {
	w := csv.NewWriter(b)
	ts := iv.to.UTC().Format(TimeFormat)
	from := iv.from.UTC().Format(TimeFormat)
	span := iv.to.Sub(iv.from)
	sinceStart := iv.to.Sub(iv.start)
	row := make([]string, 0, len(Columns()))
	for _, k := range keys {
		s, c := win[k], cum[k]
		errs, cumErrs := errorsJSON(s.Errors), errorsJSON(c.Errors)
		if k.IsTotal() {
			errs, cumErrs = "", "" // as zk-locust: errors are per entry only
		}
		row = append(row[:0], ts, iv.clientID, k.Method, k.Name,
			strconv.FormatInt(s.Requests, 10), strconv.FormatInt(s.Failures, 10),
			ms(s.Percentile(50)), nsMS(s.MeanNanos()), nsMS(float64(s.MinNanos)), nsMS(float64(s.MaxNanos)),
			num(s.AvgContentLength(), 2), num(rate(c.Requests, sinceStart), 3), strconv.Itoa(iv.users),
			errs)
		for _, p := range Percentiles {
			row = append(row, ms(s.Percentile(p)))
		}
		for _, p := range ExtraPercentiles {
			row = append(row, ms(s.Percentile(p)))
		}
		row = append(row, from, num(span.Seconds(), 6), num(rate(s.Requests, span), 3), num(rate(s.Failures, span), 3))
		row = append(row, strconv.FormatInt(c.Requests, 10), strconv.FormatInt(c.Failures, 10),
			ms(c.Percentile(50)), nsMS(c.MeanNanos()), nsMS(float64(c.MinNanos)), nsMS(float64(c.MaxNanos)),
			num(c.AvgContentLength(), 2), cumErrs)
		for _, p := range Percentiles {
			row = append(row, ms(c.Percentile(p)))
		}
		for _, p := range ExtraPercentiles {
			row = append(row, ms(c.Percentile(p)))
		}
		_ = w.Write(row) // writes to a bytes.Buffer do not fail
	}
	w.Flush()
}

// parseTime reads a timestamp written with TimeFormat.
func parseTime(s string) (time.Time, error) { return time.Parse(TimeFormat, s) }
