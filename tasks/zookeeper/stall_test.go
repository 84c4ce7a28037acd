package zookeeper

import (
	"syscall"
	"testing"
	"time"
)

// stall freezes a process for d (SIGSTOP, then SIGCONT).
func stall(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}
