//go:build windows

package errclass

import (
	"syscall"

	"golang.org/x/sys/windows"
)

// errnoCases are the system errors of this OS with their classes.
func errnoCases() []classCase {
	return []classCase{
		{"WSAECONNRESET", windows.WSAECONNRESET, Reset},
		{"WSAECONNABORTED", windows.WSAECONNABORTED, Reset},
		{"ERROR_NETNAME_DELETED", windows.ERROR_NETNAME_DELETED, Reset},
		{"ERROR_CONNECTION_ABORTED", windows.ERROR_CONNECTION_ABORTED, Reset},
		{"WSAESHUTDOWN", windows.WSAESHUTDOWN, BrokenPipe},
		{"WSAECONNREFUSED", windows.WSAECONNREFUSED, Refused},
		{"ERROR_CONNECTION_REFUSED", windows.ERROR_CONNECTION_REFUSED, Refused},
		{"WSAEHOSTUNREACH", windows.WSAEHOSTUNREACH, Unreachable},
		{"WSAENETUNREACH", windows.WSAENETUNREACH, Unreachable},
		{"WSAENETDOWN", windows.WSAENETDOWN, Unreachable},
		{"ERROR_HOST_UNREACHABLE", windows.ERROR_HOST_UNREACHABLE, Unreachable},
		{"ERROR_NETWORK_UNREACHABLE", windows.ERROR_NETWORK_UNREACHABLE, Unreachable},
		{"WSAETIMEDOUT", windows.WSAETIMEDOUT, TimedOut},
		{"WSAENETRESET", windows.WSAENETRESET, TimedOut},
		{"ERROR_SEM_TIMEOUT", windows.ERROR_SEM_TIMEOUT, TimedOut},
		// Go invents syscall.ECONNRESET on Windows; the system never returns it.
		{"invented ECONNRESET", syscall.ECONNRESET, Other},
		{"WSAEACCES", windows.WSAEACCES, Other},
	}
}
