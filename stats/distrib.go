package stats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// distribRecord is one line of the distribution file (JSON Lines). See doc/stats.md.
type distribRecord struct {
	Timestamp     string           `json:"timestamp"`
	Start         string           `json:"interval_start"`
	ClientID      string           `json:"client_id"`
	Method        string           `json:"method"`
	Name          string           `json:"name"`
	Requests      int64            `json:"num_requests"`
	Failures      int64            `json:"num_failures"`
	SumNanos      int64            `json:"sum_response_time_ns"`
	MinNanos      int64            `json:"min_response_time_ns"`
	MaxNanos      int64            `json:"max_response_time_ns"`
	ContentLength int64            `json:"sum_content_length"`
	UserCount     int              `json:"user_count"`
	Errors        map[string]int64 `json:"errors,omitempty"`
	Unit          string           `json:"unit"`
	Histogram     string           `json:"hdr"`
}

// histogramUnit is the unit of the histograms' values, written in every record.
const histogramUnit = "us"

func writeDistribution(b *bytes.Buffer, iv interval, k Key, s *Summary) error {
	enc, err := s.Hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return err
	}
	rec := distribRecord{
		Timestamp: iv.to.UTC().Format(TimeFormat), Start: iv.from.UTC().Format(TimeFormat),
		ClientID: iv.clientID, Method: k.Method, Name: k.Name,
		Requests: s.Requests, Failures: s.Failures, SumNanos: s.SumNanos,
		MinNanos: s.MinNanos, MaxNanos: s.MaxNanos, ContentLength: s.ContentLength,
		UserCount: iv.users, Errors: s.Errors, Unit: histogramUnit, Histogram: string(enc),
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	b.Write(line)
	b.WriteByte('\n')
	return nil
}

// Distribution is one record of a distribution file: one entry's window on one worker.
type Distribution struct {
	Key
	// ClientID is the worker's node id.
	ClientID string
	// Start and End bound the window; End is the CSV rows' timestamp.
	Start, End time.Time
	// UserCount is the worker's running users at End.
	UserCount int
	// Summary holds the window's statistics, histogram in microseconds.
	Summary
}

// ReadDistributions reads a distribution file. A last line cut short (a worker killed
// while writing) is ignored; any other malformed line is an error.
func ReadDistributions(path string) ([]Distribution, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ds, err := DecodeDistributions(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ds, nil
}

// DecodeDistributions reads distribution records from r, as ReadDistributions does.
func DecodeDistributions(r io.Reader) ([]Distribution, error) {
	br := bufio.NewReader(r)
	var out []Distribution
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// An unterminated last line is an interrupted write: drop it.
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		d, err := decodeRecord(line)
		if err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, d)
	}
}

func decodeRecord(line []byte) (Distribution, error) {
	var rec distribRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return Distribution{}, err
	}
	if rec.Unit != histogramUnit {
		return Distribution{}, fmt.Errorf("histogram unit %q: want %q", rec.Unit, histogramUnit)
	}
	h, err := hdrhistogram.Decode([]byte(rec.Histogram))
	if err != nil {
		return Distribution{}, fmt.Errorf("histogram: %w", err)
	}
	// Re-home the counts in the package's geometry so that every histogram merges and
	// compares with every other.
	hist := NewHistogram()
	if dropped := hist.Merge(h); dropped != 0 {
		return Distribution{}, fmt.Errorf("histogram: %d values out of range", dropped)
	}
	if hist.TotalCount() != rec.Requests {
		return Distribution{}, fmt.Errorf("histogram holds %d values for %d requests", hist.TotalCount(), rec.Requests)
	}
	end, err := parseTime(rec.Timestamp)
	if err != nil {
		return Distribution{}, err
	}
	start, err := parseTime(rec.Start)
	if err != nil {
		return Distribution{}, err
	}
	return Distribution{
		Key:      Key{Method: rec.Method, Name: rec.Name},
		ClientID: rec.ClientID, Start: start, End: end, UserCount: rec.UserCount,
		Summary: Summary{
			Requests: rec.Requests, Failures: rec.Failures, SumNanos: rec.SumNanos,
			MinNanos: rec.MinNanos, MaxNanos: rec.MaxNanos, ContentLength: rec.ContentLength,
			Errors: rec.Errors, Hist: hist,
		},
	}, nil
}

// Merge merges distributions per key, across workers and windows: the result for a key
// is exactly what one collector that saw all of those requests in one window would
// hold. Select the records first (by ClientID, or by Start and End for a time range).
func Merge(ds []Distribution) map[Key]*Summary {
	out := make(map[Key]*Summary)
	for i := range ds {
		summaryFor(out, ds[i].Key).Add(&ds[i].Summary)
	}
	return out
}
