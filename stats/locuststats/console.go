package locuststats

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/zkload/zkload/pyfmt"
)

// Column widths of Locust's console tables: STATS_TYPE_WIDTH, and STATS_NAME_WIDTH as
// Locust sets it when its output is not a terminal.
const (
	typeWidth = 8
	nameWidth = 80
)

// WriteStats writes Locust's request statistics table (print_stats). current picks
// the request rates of the last ~10 s, as the table printed while a test runs;
// otherwise the rates are over the whole test, as in the final summary. Like
// Locust's console logger, it ends with an empty line.
func (s *Stats) WriteStats(w io.Writer, current bool) error {
	var b strings.Builder
	s.lockedView(func(v *view) {
		nw := nameWidth - typeWidth + 4
		fmt.Fprintf(&b, "%-*s %-*s %7s %12s |%7s %7s %7s%7s | %7s %11s\n", typeWidth, "Type", nw, "Name",
			"# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s")
		sep := strings.Join([]string{strings.Repeat("-", typeWidth), strings.Repeat("-", nw), strings.Repeat("-", 7),
			strings.Repeat("-", 13), strings.Repeat("-", 7), strings.Repeat("-", 7), strings.Repeat("-", 7),
			strings.Repeat("-", 7), strings.Repeat("-", 8), strings.Repeat("-", 11)}, "|")
		b.WriteString(sep + "\n")
		for _, e := range v.entries {
			v.statsLine(&b, e, current, nw)
		}
		b.WriteString(sep + "\n")
		v.statsLine(&b, v.total, current, nw)
		b.WriteString("\n")
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// statsLine is StatsEntry.to_string.
func (v *view) statsLine(b *strings.Builder, e *Entry, current bool, nw int) {
	var rps, fps float64
	if current {
		rps, fps = v.rate(e.NumReqsPerSec), v.rate(e.NumFailPerSec)
	} else {
		rps, fps = v.totalRate(e.NumRequests), v.totalRate(e.NumFailures)
	}
	method := ""
	if e.Method != "" {
		method = e.Method + " "
	}
	ratio := 0.0
	switch {
	case e.NumRequests > 0:
		ratio = float64(e.NumFailures) / float64(e.NumRequests)
	case e.NumFailures > 0:
		ratio = 1
	}
	fmt.Fprintf(b, "%-*s %-*s %7d %12s |%7d %7d %7d%7d | %7.2f %11.2f\n", typeWidth, method, nw, e.Name,
		e.NumRequests, fmt.Sprintf("%d(%.2f%%)", e.NumFailures, ratio*100),
		pyInt(e.AvgResponseTime()), pyInt(e.MinOrZero()), pyInt(e.MaxResponseTime),
		pyInt(e.MedianResponseTime()), rps, fps)
}

// pyInt is what Python's "%d" makes of a number: it truncates towards zero.
func pyInt(n Num) int64 { return int64(math.Trunc(n.V)) }

// WritePercentiles writes Locust's "Response time percentiles (approximated)" table
// (print_percentile_stats), ending with an empty line.
func (s *Stats) WritePercentiles(w io.Writer) error {
	var b strings.Builder
	s.lockedView(func(v *view) {
		b.WriteString("Response time percentiles (approximated)\n")
		fmt.Fprintf(&b, "%-*s %-*s %8s", typeWidth, "Type", nameWidth, "Name", percentileHeaders[0])
		for _, h := range percentileHeaders[1:] {
			fmt.Fprintf(&b, " %6s", h)
		}
		fmt.Fprintf(&b, " %6s\n", "# reqs")
		sep := strings.Repeat("-", typeWidth) + "|" + strings.Repeat("-", nameWidth) + "|" + strings.Repeat("-", 8) + "|" +
			strings.Repeat(strings.Repeat("-", 6)+"|", len(Percentiles))
		sep = sep[:len(sep)-1] + "\n"
		b.WriteString(sep)
		for _, e := range v.entries {
			if len(e.ResponseTimes) > 0 {
				percentileLine(&b, e)
			}
		}
		b.WriteString(sep)
		if len(v.total.ResponseTimes) > 0 {
			percentileLine(&b, v.total)
		}
		b.WriteString("\n")
	})
	_, err := io.WriteString(w, b.String())
	return err
}

// percentileLine is StatsEntry.percentile: the first percentile in the 8-wide
// column, the others and the request count in 6-wide ones.
func percentileLine(b *strings.Builder, e *Entry) {
	fmt.Fprintf(b, "%-*s %-*s %8d", typeWidth, e.Method, nameWidth, e.Name, e.Percentile(Percentiles[0]))
	for _, p := range Percentiles[1:] {
		fmt.Fprintf(b, " %6d", e.Percentile(p))
	}
	fmt.Fprintf(b, " %6d\n", e.NumRequests)
}

// WriteErrors writes Locust's error report (print_error_report), errors in the order
// first seen, or nothing when there were none.
func (s *Stats) WriteErrors(w io.Writer) error {
	var rows []countRow
	s.lockedView(func(v *view) {
		for _, e := range v.errOrder {
			rows = append(rows, countRow{e.Occurrences, errorName(e)})
		}
	})
	return writeCountReport(w, "Error report", "Error", rows)
}

// WriteExceptions writes the exceptions the users raised, in the error report's shape
// (Locust's master shows them only in its web UI's Exceptions tab; a headless run
// would otherwise show just their count), or nothing when there were none. Each
// message is cut to its first line.
func (s *Stats) WriteExceptions(w io.Writer) error {
	var rows []countRow
	s.lockedView(func(v *view) {
		for _, e := range v.exceptions {
			msg, _, _ := strings.Cut(strings.TrimSpace(e.Msg), "\n")
			rows = append(rows, countRow{e.Count, msg})
		}
	})
	return writeCountReport(w, "Exception report", "Exception", rows)
}

// countRow is one row of a report of occurrences.
type countRow struct {
	n    int64
	text string
}

// writeCountReport writes rows as print_error_report does: a title, a header, the rows
// between two separator lines; nothing when there are no rows.
func writeCountReport(w io.Writer, title, column string, rows []countRow) error {
	if len(rows) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString(title + "\n")
	fmt.Fprintf(&b, "%-18s %-100s\n", "# occurrences", column)
	sep := strings.Repeat("-", 18) + "|" + strings.Repeat("-", 80+nameWidth-19) + "\n"
	b.WriteString(sep)
	for _, r := range rows {
		fmt.Fprintf(&b, "%-18d %-100s\n", r.n, r.text)
	}
	b.WriteString(sep)
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// errorName is StatsError.to_name for an error received from a worker (a string).
func errorName(e *Error) string {
	text := pyfmt.Repr(e.Text)
	if rest, ok := strings.CutPrefix(e.Text, "CatchResponseError("); ok && len(rest) > 0 {
		text = rest[:len(rest)-1]
	}
	return fmt.Sprintf("%s %s: %s", e.Method, e.Name, text)
}

// WriteSummary writes what Locust prints when a test ends: the statistics with rates
// over the whole test, the percentiles and the error report.
func (s *Stats) WriteSummary(w io.Writer) error {
	if err := s.WriteStats(w, false); err != nil {
		return err
	}
	if err := s.WritePercentiles(w); err != nil {
		return err
	}
	return s.WriteErrors(w)
}
