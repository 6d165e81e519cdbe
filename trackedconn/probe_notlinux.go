//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package trackedconn

import (
	"errors"

	"golang.org/x/sys/unix"
)

// recvPeek runs recv(MSG_PEEK|MSG_DONTWAIT) into b. (unix.Recvfrom
// allocates its address buffer, about 100 bytes per probe.)
func recvPeek(fd uintptr, b []byte) (int, unix.Errno) {
	n, _, err := unix.Recvfrom(int(fd), b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err == nil {
		return n, 0
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return 0, unix.EINVAL // nothing known
	}
	return 0, errno
}

// isTCP reports false: only Linux consults the TCP state, and a peek
// works the same on any stream socket.
func isTCP(fd uintptr) bool { return false }

// finReceived reports false: without the TCP state a FIN behind queued
// data shows only once the data is read.
func finReceived(fd uintptr) bool { return false }

// readShutLiveness knows nothing: after shutdown(SHUT_RD) a receive returns
// 0 whatever the peer did.
func readShutLiveness(fd uintptr) Liveness { return LivenessUnknown }
