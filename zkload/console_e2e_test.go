package main

import (
	"net"
	"strings"
	"testing"
)

// TestRunShowsExceptions: the exceptions users raise reach the console, not only
// _exceptions.csv: each distinct one is logged once when first raised, and the summary
// ends with an exception report, as the error report shows failures. (Here: ZooKeeper
// users whose session never comes, against a port where nothing listens.) A run
// without --report-dir says nothing of a report.
func TestRunShowsExceptions(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	out := runZkload(t, 1, "run", "--hosts", addr, "--session-timeout", "1", "-u", "3", "-r", "10", "-t", "3s", "--only-summary", "Get")
	if n := strings.Count(out, "a user raised an exception"); n != 1 {
		t.Errorf("the exception was logged %d times, want once:\n%s", n, out)
	}
	i := strings.Index(out, "Exception report")
	if i < 0 {
		t.Fatalf("no exception report in the summary:\n%s", out)
	}
	if report := out[i:]; !strings.Contains(report, "no session with "+addr) {
		t.Errorf("the exception report does not say why:\n%s", report)
	}
	if strings.Contains(out, "report of") {
		t.Errorf("a run without --report-dir talks of a report:\n%s", out)
	}
}
