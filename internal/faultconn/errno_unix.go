//go:build !windows && !plan9

package faultconn

import "syscall"

// System error numbers as the platform returns them, for SyscallError.
var (
	ErrnoReset      error = syscall.ECONNRESET   // the peer reset the connection
	ErrnoAborted    error = syscall.ECONNABORTED // the local stack aborted it
	ErrnoBrokenPipe error = syscall.EPIPE        // write after the sending side shut
	ErrnoTimedOut   error = syscall.ETIMEDOUT    // the kernel gave up (keepalive, retransmission)
)
