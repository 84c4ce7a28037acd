package testenv

import "syscall"

// sysProcAttr puts the child in its own process group (so that it and its children can
// be killed together) and has the kernel SIGKILL it if the test binary dies first (go
// test's -timeout panic skips cleanups).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
