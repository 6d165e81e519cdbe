package trackedconn

import (
	"net"
	"os"
	"syscall"
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

// rawControl runs fn on the descriptor of sc and returns fn's error or the
// raw conn's.
func rawControl(sc syscall.Conn, fn func(fd uintptr) error) error {
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(fd) }); err != nil {
		return err
	}
	return ferr
}
