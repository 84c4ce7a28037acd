package locuststats

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/pyfmt"

	"github.com/zkload/zkload/boomer/wire"
)

// CSV writes the four files of `locust --csv PREFIX` as Locust 2.12.1 does:
// PREFIX_stats.csv, PREFIX_failures.csv and PREFIX_exceptions.csv are rewritten on
// every Write; PREFIX_stats_history.csv gains rows. Every Write goes straight to the
// files (nothing is left in a buffer), so whatever was written survives a crash.
type CSV struct {
	fullHistory bool
	stats       *os.File
	history     *os.File
	failures    *os.File
	exceptions  *os.File
}

var (
	statsColumns = append([]string{"Type", "Name", "Request Count", "Failure Count", "Median Response Time",
		"Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
		"Requests/s", "Failures/s"}, percentileHeaders...)
	historyColumns = append(append([]string{"Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s"},
		percentileHeaders...), "Total Request Count", "Total Failure Count", "Total Median Response Time",
		"Total Average Response Time", "Total Min Response Time", "Total Max Response Time", "Total Average Content Size")
	failuresColumns   = []string{"Method", "Name", "Error", "Occurrences"}
	exceptionsColumns = []string{"Count", "Message", "Traceback", "Nodes"}
)

// CreateCSV creates (truncates) the four files and writes their headers at once, as
// the master does at start-up. fullHistory is --csv-full-history: a history row per
// entry too, all with current (last ~10 s) percentiles.
func CreateCSV(prefix string, fullHistory bool) (*CSV, error) {
	c := &CSV{fullHistory: fullHistory}
	var err error
	for _, f := range []struct {
		suffix string
		file   **os.File
		header []string
	}{
		{"_stats.csv", &c.stats, statsColumns},
		{"_stats_history.csv", &c.history, historyColumns},
		{"_failures.csv", &c.failures, failuresColumns},
		{"_exceptions.csv", &c.exceptions, exceptionsColumns},
	} {
		if *f.file, err = os.Create(prefix + f.suffix); err != nil {
			c.Close()
			return nil, err
		}
		var b bytes.Buffer
		writeRow(&b, f.header)
		if _, err = (*f.file).Write(b.Bytes()); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Write brings the files up to date with s: the three snapshots are rewritten and
// one history row (one per entry too with full history) is appended, stamped now
// with the given running user count.
func (c *CSV) Write(s *Stats, userCount int, now time.Time) error {
	var stats, history, failures, exceptions bytes.Buffer
	s.lockedView(func(v *view) {
		writeRow(&stats, statsColumns)
		v.statsRows(&stats)
		v.historyRows(&history, now.Unix(), userCount, c.fullHistory)
		writeRow(&failures, failuresColumns)
		v.failureRows(&failures)
		writeRow(&exceptions, exceptionsColumns)
		v.exceptionRows(&exceptions)
	})
	err := rewrite(c.stats, stats.Bytes())
	if _, werr := c.history.Write(history.Bytes()); werr != nil {
		err = errors.Join(err, werr)
	}
	return errors.Join(err, rewrite(c.failures, failures.Bytes()), rewrite(c.exceptions, exceptions.Bytes()))
}

// Close syncs and closes the files.
func (c *CSV) Close() error {
	var err error
	for _, f := range []*os.File{c.stats, c.history, c.failures, c.exceptions} {
		if f != nil {
			err = errors.Join(err, f.Sync(), f.Close())
		}
	}
	return err
}

func rewrite(f *os.File, b []byte) error {
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Truncate(int64(len(b)))
}

func (v *view) statsRows(b *bytes.Buffer) {
	for _, e := range slices.Concat(v.entries, []*Entry{v.total}) {
		row := []string{e.Method, e.Name, itoa(e.NumRequests), itoa(e.NumFailures),
			e.MedianResponseTime().String(), e.AvgResponseTime().String(), e.MinOrZero().String(),
			e.MaxResponseTime.String(), e.AvgContentLength().String(),
			pyfmt.Float(v.totalRate(e.NumRequests)), pyfmt.Float(v.totalRate(e.NumFailures))}
		writeRow(b, append(row, v.percentileFields(e, false)...))
	}
}

func (v *view) historyRows(b *bytes.Buffer, ts int64, users int, full bool) {
	rows := []*Entry{v.total}
	if full {
		rows = slices.Concat(v.entries, []*Entry{v.total})
	}
	for _, e := range rows {
		row := []string{itoa(ts), strconv.Itoa(users), e.Method, e.Name,
			fmt.Sprintf("%2f", v.rate(e.NumReqsPerSec)), fmt.Sprintf("%2f", v.rate(e.NumFailPerSec))}
		row = append(row, v.percentileFields(e, full)...)
		row = append(row, itoa(e.NumRequests), itoa(e.NumFailures), e.MedianResponseTime().String(),
			e.AvgResponseTime().String(), e.MinOrZero().String(), e.MaxResponseTime.String(),
			e.AvgContentLength().String())
		writeRow(b, row)
	}
}

func (v *view) percentileFields(e *Entry, current bool) []string {
	out := make([]string, len(Percentiles))
	for i, p := range Percentiles {
		switch {
		case e.NumRequests == 0:
			out[i] = "N/A"
		case current:
			n, _ := e.CurrentPercentile(p, v.now)
			out[i] = itoa(n)
		default:
			out[i] = itoa(e.Percentile(p))
		}
	}
	return out
}

func (v *view) failureRows(b *bytes.Buffer) {
	for _, e := range v.errors {
		writeRow(b, []string{e.Method, e.Name, wire.ScrubAddress(pyfmt.Repr(e.Text)), itoa(e.Occurrences)})
	}
}

func (v *view) exceptionRows(b *bytes.Buffer) {
	for _, x := range v.exceptions {
		writeRow(b, []string{itoa(x.Count), x.Msg, x.Traceback, strings.Join(x.Nodes, ", ")})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// writeRow writes one record as Python's csv.writer (excel dialect) does: fields
// holding a comma, a quote, CR or LF are quoted with quotes doubled, and the line
// ends with CRLF. Unlike encoding/csv, it leaves leading spaces and the newlines
// inside quoted fields as they are.
func writeRow(b *bytes.Buffer, fields []string) {
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		switch {
		case len(fields) == 1 && f == "":
			b.WriteString(`""`)
		case strings.ContainsAny(f, ",\"\r\n"):
			b.WriteByte('"')
			b.WriteString(strings.ReplaceAll(f, `"`, `""`))
			b.WriteByte('"')
		default:
			b.WriteString(f)
		}
	}
	b.WriteString("\r\n")
}
