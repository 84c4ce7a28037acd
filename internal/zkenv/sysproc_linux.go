package zkenv

import "syscall"

// sysProcAttr puts a server in its own process group and has the kernel kill it if its
// parent dies, so that no JVM outlives a crashed test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
