package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
)

// csvKind classifies a CSV field as Python prints it: an int, a float, N/A, empty or text.
func csvKind(s string) string {
	switch {
	case s == "":
		return "empty"
	case s == "N/A":
		return "N/A"
	case regexp.MustCompile(`^-?\d+$`).MatchString(s):
		return "int"
	case regexp.MustCompile(`^-?\d+\.\d+(e[+-]\d\d+)?$`).MatchString(s):
		return "float"
	}
	return "text"
}

// TestRunCSVMatchesMaster runs the same HTTP workload twice at once: through a real
// Locust master with one `zkload worker`, and through `zkload run --csv`. The exact
// numbers of identical reports are checked against Locust's own code in
// stats/locuststats (TestMatchesLocustMaster); here the real runs must give files of
// the same shape: identical headers, CRLF, the same rows, every column of the same
// Python type, and counts equal to what each target served.
func TestRunCSVMatchesMaster(t *testing.T) {
	testenv.RequireLocust(t)
	t.Parallel()
	tm := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
	tr := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: 2 * time.Millisecond})
	m := testenv.StartMaster(t, testenv.MasterOptions{
		Locustfile: httpLocustfile(t), Headless: true, ExpectWorkers: 1,
		Users: 3, SpawnRate: 3, RunTime: "4s", CSVPrefix: "run", Host: tm.URL,
	})
	w := startWorker(t, m)
	prefix := filepath.Join(t.TempDir(), "run")
	r := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", "3", "-r", "3", "-t", "4s", "-H", tr.URL, "--csv", prefix, "Http"}, nil)
	if code := r.Wait(30 * time.Second); code != 0 {
		t.Fatalf("zkload run exit code %d, want 0\n%s", code, r.Log())
	}
	if code := m.Wait(60 * time.Second); code != 0 {
		t.Fatalf("master exit code %d, want 0\n%s", code, m.Log())
	}
	w.Wait(10 * time.Second)
	for _, want := range []string{regexp.QuoteMeta("Response time percentiles (approximated)"), `(?m)^\s+Aggregated\s+\d+\s+0\(0\.00%\)`} {
		if !r.LogContains(want) {
			t.Errorf("zkload run's output lacks %q:\n%s", want, r.Log())
		}
	}

	for _, kind := range []string{"stats", "stats_history", "failures", "exceptions"} {
		mb, err := os.ReadFile(m.CSV(kind))
		if err != nil {
			t.Fatal(err)
		}
		rb, err := os.ReadFile(prefix + "_" + kind + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		mh, _, _ := bytes.Cut(mb, []byte("\n"))
		rh, _, _ := bytes.Cut(rb, []byte("\n"))
		if !bytes.Equal(mh, rh) {
			t.Errorf("%s header:\n zkload run: %q\n     master: %q", kind, rh, mh)
		}
		if n := bytes.Count(rb, []byte("\n")); n == 0 || n != bytes.Count(rb, []byte("\r\n")) {
			t.Errorf("%s: lines must end with CRLF:\n%q", kind, rb)
		}
	}

	mrows := testenv.CSVRecords(t, m.CSV("stats"))
	rrows := testenv.CSVRecords(t, prefix+"_stats.csv")
	if len(mrows) != 2 || len(rrows) != 2 {
		t.Fatalf("stats rows: master %v, zkload run %v; want GET / and Aggregated", mrows, rrows)
	}
	for i := range mrows {
		for col, mv := range mrows[i] {
			rv := rrows[i][col]
			switch col {
			case "Type", "Name":
				if rv != mv {
					t.Errorf("row %d %s: zkload run %q, master %q", i, col, rv, mv)
				}
			case "Median Response Time": // an int bucket, or the float min or max when clamped
				if k := csvKind(rv); k != "int" && k != "float" {
					t.Errorf("row %d %s = %q, want a number", i, col, rv)
				}
			default:
				if csvKind(rv) != csvKind(mv) {
					t.Errorf("row %d %s: zkload run %q (%s), master %q (%s)", i, col, rv, csvKind(rv), mv, csvKind(mv))
				}
			}
		}
	}
	for _, c := range []struct {
		what   string
		row    map[string]string
		served int64
	}{{"master", mrows[1], tm.Total()}, {"zkload run", rrows[1], tr.Total()}} {
		if n := csvInt(t, c.row, "Request Count"); n != c.served || n == 0 {
			t.Errorf("%s counted %d requests, its target served %d", c.what, n, c.served)
		}
		rps, _ := strconv.ParseFloat(c.row["Requests/s"], 64)
		if want := float64(c.served) / 4; rps < want/2 || rps > want*2 {
			t.Errorf("%s: Requests/s %v, want about %v", c.what, rps, want)
		}
	}

	// History: every row of the run's file has the master's columns and types.
	mh := testenv.CSVRecords(t, m.CSV("stats_history"))
	rh := testenv.CSVRecords(t, prefix+"_stats_history.csv")
	if len(rh) < 4 {
		t.Fatalf("zkload run wrote %d history rows for a 4 s run", len(rh))
	}
	var ref map[string]string // the master's last row with requests
	for _, row := range mh {
		if row["Total Request Count"] != "0" {
			ref = row
		}
	}
	if ref == nil {
		// Locust 2.12.1 flushes the history file every 10 s and not at exit, so a
		// short run's file may hold no row with requests: take the types from the
		// master's Aggregated row in _stats.csv instead.
		ref = map[string]string{"Timestamp": "1", "User Count": "3", "Type": "", "Name": "Aggregated",
			"Requests/s": "1.000000", "Failures/s": "0.000000"}
		for _, col := range []string{"50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%"} {
			ref[col] = mrows[1][col]
		}
		for _, col := range []string{"Request Count", "Failure Count", "Median Response Time", "Average Response Time",
			"Min Response Time", "Max Response Time", "Average Content Size"} {
			ref["Total "+col] = mrows[1][col]
		}
	}
	for i, row := range rh {
		for col, mv := range ref {
			if col == "Total Median Response Time" {
				continue
			}
			if k := csvKind(row[col]); k != csvKind(mv) && !(i == 0 && k == "N/A") {
				t.Errorf("history row %d %s: %q (%s), master's %q (%s)", i, col, row[col], k, mv, csvKind(mv))
			}
		}
	}
	if last := rh[len(rh)-1]; csvInt(t, last, "Total Request Count") != tr.Total() || last["User Count"] != "0" {
		t.Errorf("last history row %v: want every request (%d) and 0 users", last, tr.Total())
	}
}

// TestRunSignalKeepsData: SIGINT ends the run early; it exits 0 with final CSV files
// holding every request the target served, and prints the summary. The CPU profile
// asked for is complete too.
func TestRunSignalKeepsData(t *testing.T) {
	t.Parallel()
	tg := testenv.HTTPTarget(t, testenv.TargetOptions{Delay: time.Millisecond})
	prefix := filepath.Join(t.TempDir(), "sig")
	profile := prefix + ".pprof"
	p := testenv.StartProcess(t, zkloadBin, []string{"run", "-u", "2", "-r", "10", "-t", "60s", "-H", tg.URL, "--csv", prefix, "--only-summary", "--cpu-profile", profile, "Http"}, nil)
	p.WaitLog("All users spawned", 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	p.Signal(syscall.SIGINT)
	if code := p.Wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT, want 0\n%s", code, p.Log())
	}
	agg := testenv.CSVAggregated(t, prefix+"_stats.csv")
	if n := csvInt(t, agg, "Request Count"); n == 0 || n != tg.Total() {
		t.Errorf("CSV counted %d requests, the target served %d", n, tg.Total())
	}
	if !p.LogContains(`Response time percentiles`) || p.LogCount(`# reqs`) != 2 {
		t.Errorf("want only the final summary (2 tables), got:\n%s", p.Log())
	}
	// A pprof profile is a gzipped protocol buffer; a cut-off one fails to decompress.
	f, err := os.Open(profile)
	if err != nil {
		t.Fatalf("--cpu-profile: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("--cpu-profile: not gzip: %v", err)
	}
	if n, err := io.Copy(io.Discard, zr); err != nil || n == 0 {
		t.Errorf("--cpu-profile: %d bytes, %v; want a complete profile", n, err)
	}
}

// TestRunBadInput: each bad setting gives one line naming it and exit code 2.
func TestRunBadInput(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-u", "x"}, "-u"},
		{[]string{"--users", "-3"}, "--users -3"},
		{[]string{"-r", "0"}, `--spawn-rate "0"`},
		{[]string{"-t", "soon"}, `--run-time "soon"`},
		{[]string{"--csv-full-history"}, "--csv-full-history needs --csv"},
		{[]string{"--csv", "/nonexistent/dir/x"}, `--csv "/nonexistent/dir/x"`},
		{[]string{"Nope"}, `unknown user class "Nope"`},
		{[]string{"--cpu-profile", "/nonexistent/dir/p"}, `--cpu-profile "/nonexistent/dir/p"`},
	} {
		p := testenv.StartProcess(t, zkloadBin, append(append([]string{"run", "-t", "1s", "-H", "http://127.0.0.1:1"}, c.args...), "Http"), nil)
		code := p.Wait(10 * time.Second)
		out := strings.TrimSpace(p.Log())
		if code != 2 || strings.Count(out, "\n") != 0 || !strings.Contains(out, c.want) {
			t.Errorf("zkload run %v: exit code %d, output %q; want 2 and one line with %q", c.args, code, out, c.want)
		}
	}
}

func TestParseTimespan(t *testing.T) {
	for in, want := range map[string]time.Duration{"90": 90 * time.Second, "20s": 20 * time.Second,
		"1h30m": 90 * time.Minute, "3m10s": 190 * time.Second, "1.5s": 1500 * time.Millisecond} {
		if got, err := parseTimespan(in); err != nil || got != want {
			t.Errorf("parseTimespan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseTimespan("soon"); err == nil {
		t.Error("parseTimespan(\"soon\") succeeded")
	}
}
