package main

import "syscall"

// sysProcAttr has the kernel kill a child (the worker, nginx) if this process dies
// without cleaning up, so that no worker outlives the measurement.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
