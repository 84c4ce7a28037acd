package ensemble

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
)

// TimeFormat is the layout of the CSV's timestamps: UTC with microseconds, as the
// extended-statistics CSV and zk-locust.
const TimeFormat = "2006-01-02T15:04:05.000000Z"

// Columns returns the long-form CSV's header: timestamp, host_port, server_state,
// metric, value.
func Columns() []string {
	return []string{"timestamp", "host_port", "server_state", "metric", "value"}
}

// ErrorMetric is the metric name of an error row: its value is why the member gave no
// metrics (connection refused, timeout, not serving).
const ErrorMetric = "error"

// SourceMetric is the metric name of the row, written first for each member that
// answered, whose value is the source that answered (admin, mntr or prometheus).
const SourceMetric = "source"

// CSVWriter writes samples to a long-form CSV: one row per member and metric, a rate
// row (<metric>_per_sec) per counter from a member's second sample on, and an error row
// for a member that gave no metrics. Every Write ends with a flush to the underlying
// writer, so a file is valid CSV after each poll even if the process is killed. It is
// not safe for concurrent use.
type CSVWriter struct {
	w     *csv.Writer
	rates Rates
	rows  int
}

// NewCSVWriter writes the header to w and returns the writer.
func NewCSVWriter(w io.Writer) (*CSVWriter, error) {
	c := &CSVWriter{w: csv.NewWriter(w)}
	if err := c.w.Write(Columns()); err != nil {
		return nil, fmt.Errorf("ensemble: csv header: %w", err)
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return nil, fmt.Errorf("ensemble: csv header: %w", err)
	}
	return c, nil
}

// Rows returns how many rows (header excluded) were written.
func (c *CSVWriter) Rows() int { return c.rows }

// Write writes one poll's samples and flushes.
func (c *CSVWriter) Write(samples []Sample) error {
	for _, s := range samples {
		ts := s.Time.UTC().Format(TimeFormat)
		row := func(metric, value string) {
			_ = c.w.Write([]string{ts, s.HostPort, s.State, metric, oneLine(value)})
			c.rows++
		}
		if s.Err != nil {
			if s.Source != "" {
				row(SourceMetric, string(s.Source))
			}
			row(ErrorMetric, s.Err.Error())
			c.rates.Update(s)
			continue
		}
		row(SourceMetric, string(s.Source))
		for _, m := range s.Metrics {
			row(m.Name, m.Value)
		}
		for _, m := range c.rates.Update(s) {
			row(m.Name, m.Value)
		}
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("ensemble: write csv: %w", err)
	}
	return nil
}

// oneLine keeps a value on one line (error texts may hold newlines).
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// Run polls every interval, from now until ctx is done, writing each poll to w (if not
// nil) and passing it to onPoll (if not nil; for progress). It returns nil when ctx
// ends, or the first write error.
func Run(ctx context.Context, p *Poller, w *CSVWriter, interval time.Duration, onPoll func([]Sample)) error {
	if interval <= 0 {
		return fmt.Errorf("ensemble: interval %s: want a positive duration", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		samples := p.Poll(ctx)
		if ctx.Err() != nil {
			// Cut short by the end: the last poll's failures are ours, not the members'.
			return nil
		}
		if w != nil {
			if err := w.Write(samples); err != nil {
				return err
			}
		}
		if onPoll != nil {
			onPoll(samples)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
