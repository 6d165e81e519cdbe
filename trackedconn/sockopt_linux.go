package trackedconn

import (
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// setUserTimeout sets TCP_USER_TIMEOUT on tc, in milliseconds.
func setUserTimeout(tc *net.TCPConn, d time.Duration) error {
	return rawControl(tc, func(fd uintptr) error {
		err := unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
		return os.NewSyscallError("setsockopt TCP_USER_TIMEOUT", err)
	})
}
