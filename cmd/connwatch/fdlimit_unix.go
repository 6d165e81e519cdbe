//go:build unix

package main

import "syscall"

// fdLimit returns the soft limit on open descriptors (RLIMIT_NOFILE). Go
// raises it to the hard limit at start.
func fdLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}
