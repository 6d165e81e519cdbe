//go:build !windows && !plan9

package errclass

import "syscall"

// errnoCases are the system errors of this OS with their classes.
func errnoCases() []classCase {
	return []classCase{
		{"ECONNRESET", syscall.ECONNRESET, Reset},
		{"ECONNABORTED", syscall.ECONNABORTED, Reset},
		{"EPIPE", syscall.EPIPE, BrokenPipe},
		{"ECONNREFUSED", syscall.ECONNREFUSED, Refused},
		{"EHOSTUNREACH", syscall.EHOSTUNREACH, Unreachable},
		{"ENETUNREACH", syscall.ENETUNREACH, Unreachable},
		{"ENETDOWN", syscall.ENETDOWN, Unreachable},
		// Errno.Timeout() is true for ETIMEDOUT, yet it is no Deadline.
		{"ETIMEDOUT", syscall.ETIMEDOUT, TimedOut},
		{"EAGAIN", syscall.EAGAIN, Other},
		{"EINVAL", syscall.EINVAL, Other},
	}
}
