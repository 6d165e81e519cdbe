//go:build windows

package errclass

import "golang.org/x/sys/windows"

// errnoClasses maps Windows error numbers to classes, in check order.
// On Windows syscall.ECONNRESET and its kin are values Go invents and the
// system never returns, so only Winsock (WSAE*) and Win32 (ERROR_*) numbers
// are listed. windows.Errno is syscall.Errno, so errors.Is matches them.
var errnoClasses = [...]errnoClass{
	{Reset, []error{
		windows.WSAECONNRESET,
		windows.WSAECONNABORTED,
		windows.ERROR_NETNAME_DELETED,    // overlapped I/O on a reset connection
		windows.ERROR_CONNECTION_ABORTED, // overlapped I/O on an aborted connection
	}},
	{BrokenPipe, []error{
		windows.WSAESHUTDOWN, // send after shutdown(SD_SEND), where Unix says EPIPE
	}},
	{Refused, []error{
		windows.WSAECONNREFUSED,
		windows.ERROR_CONNECTION_REFUSED, // ConnectEx completion
	}},
	{Unreachable, []error{
		windows.WSAEHOSTUNREACH,
		windows.WSAENETUNREACH,
		windows.WSAENETDOWN,
		windows.ERROR_HOST_UNREACHABLE,
		windows.ERROR_NETWORK_UNREACHABLE,
	}},
	{TimedOut, []error{
		windows.WSAETIMEDOUT,
		windows.WSAENETRESET,      // keepalive detected a failure
		windows.ERROR_SEM_TIMEOUT, // overlapped I/O after retransmissions gave up
	}},
}
