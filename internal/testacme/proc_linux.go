package testacme

import "syscall"

// sysProcAttr has a server killed if the test binary dies without cleaning
// up (a panic, a -timeout), so that no Pebble outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
