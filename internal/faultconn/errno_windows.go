//go:build windows

package faultconn

import "golang.org/x/sys/windows"

// System error numbers as the platform returns them, for SyscallError. On
// Windows syscall.ECONNRESET and its kin are values Go invents and the
// system never returns; Winsock's are used instead.
var (
	ErrnoReset      error = windows.WSAECONNRESET   // the peer reset the connection
	ErrnoAborted    error = windows.WSAECONNABORTED // the local stack aborted it
	ErrnoBrokenPipe error = windows.WSAESHUTDOWN    // send after shutdown(SD_SEND)
	ErrnoTimedOut   error = windows.WSAETIMEDOUT    // the kernel gave up (keepalive, retransmission)
)
