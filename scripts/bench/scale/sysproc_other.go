//go:build !linux

package main

import "syscall"

// sysProcAttr: only Linux can tie a child's life to ours (see sysproc_linux.go); the
// measurements need Linux's /proc anyway.
func sysProcAttr() *syscall.SysProcAttr { return nil }
