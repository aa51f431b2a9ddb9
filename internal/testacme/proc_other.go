//go:build !linux

package testacme

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
