package testenv

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// ReadCSV reads a CSV file written by Locust (Python's csv module, excel dialect: comma,
// minimal quoting with doubled quotes, CRLF line ends). Locust rewrites its CSV files
// every second by truncating them, so an empty or half-written file is read again for
// up to 5 s before the test fails.
func ReadCSV(t testing.TB, path string) [][]string {
	t.Helper()
	var lastErr error
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, err := readCSV(path)
		if err == nil {
			return recs
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("testenv.ReadCSV: %v", lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readCSV(path string) ([][]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || !bytes.HasSuffix(b, []byte("\r\n")) {
		return nil, fmt.Errorf("%s is empty or its last line is incomplete: %q", path, lastLines(string(b), 2))
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) > 0 {
		// Every record must have as many fields as the header; else we read mid-write.
		for i, rec := range recs {
			if len(rec) != len(recs[0]) {
				return nil, fmt.Errorf("%s: record %d has %d fields, the header %d", path, i, len(rec), len(recs[0]))
			}
		}
	}
	return recs, nil
}

// CSVRecords reads a CSV file with a header row as one map (column -> value) per row.
func CSVRecords(t testing.TB, path string) []map[string]string {
	t.Helper()
	recs := ReadCSV(t, path)
	if len(recs) == 0 {
		t.Fatalf("testenv: %s has no header", path)
	}
	out := make([]map[string]string, 0, len(recs)-1)
	for _, rec := range recs[1:] {
		row := make(map[string]string, len(rec))
		for i, v := range rec {
			row[recs[0][i]] = v
		}
		out = append(out, row)
	}
	return out
}

// CSVRow returns the row of a *_stats.csv file with this Type and Name (the Aggregated
// row has an empty Type), as column -> value. It fails the test if there is none.
func CSVRow(t testing.TB, path, typ, name string) map[string]string {
	t.Helper()
	rows := CSVRecords(t, path)
	for _, row := range rows {
		if row["Type"] == typ && row["Name"] == name {
			return row
		}
	}
	var have []string
	for _, row := range rows {
		have = append(have, fmt.Sprintf("(%q, %q)", row["Type"], row["Name"]))
	}
	t.Fatalf("testenv: %s has no row (%q, %q); rows: %s", path, typ, name, strings.Join(have, ", "))
	return nil
}

// CSVAggregated returns the Aggregated row of a *_stats.csv file.
func CSVAggregated(t testing.TB, path string) map[string]string {
	t.Helper()
	return CSVRow(t, path, "", "Aggregated")
}
