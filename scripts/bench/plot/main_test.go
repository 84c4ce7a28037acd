package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChartOfResults(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "results.tsv")
	rows := "http\tzkload Http\t1\t100\t1000\t1\nhttp\twrk -t1\t1\t200\t2000\t1\n" +
		"http\tzkload Http\t2\t120\t1200\t1\nhttp\twrk -t1\t2\t150\t1500\t1\n" +
		"zk-get-1024-pipelined\tzkload Get\t1\t90\t900\t1\nzk-get-1024-pipelined\tbare go-zookeeper\t1\t100\t1000\t1\n"
	if err := os.WriteFile(in, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "p.svg")
	if err := run(in, out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "HTTP GET", "ZK get 1 KiB pipelined", "zkload"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	// The ratio is the median of the per-round ratios (0.5 and 0.8), not 110/175.
	sec := map[string]map[string]float64{"zkload Http": {"1": 100, "2": 120}, "wrk -t1": {"1": 200, "2": 150}}
	if r := ratio(sec, []string{"zkload Http"}); r != 0.65 {
		t.Errorf("ratio %v, want 0.65", r)
	}
}

func TestBadResults(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.tsv")
	os.WriteFile(bad, []byte("http\tzkload Http\t1\tfast\n"), 0o644)
	for _, c := range []struct{ in, want string }{
		{"", "-in: want"},
		{filepath.Join(dir, "missing.tsv"), "-in:"},
		{bad, `bad.tsv:1: req/s "fast"`},
	} {
		err := run(c.in, filepath.Join(dir, "x.svg"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q): %v, want an error containing %q", c.in, err, c.want)
		}
	}
}
