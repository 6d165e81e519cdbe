//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package trackedconn

import (
	"errors"

	"golang.org/x/sys/unix"
)

// sockKindOf tells whether fd is a stream socket that a one-byte peek
// can judge (datagram sockets have no FIN, and an empty datagram reads as
// zero bytes). Only Linux consults the TCP state: here a peek works the
// same on any stream socket.
func sockKindOf(fd uintptr) sockKind {
	typ, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		return sockUnknown
	}
	return sockStream
}

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

// peek runs recv(MSG_PEEK|MSG_DONTWAIT) of one byte on fd: it neither
// blocks nor consumes data. It runs under p.mu, inside RawConn.Control.
// Without the TCP state a FIN behind queued data shows only once the data
// is read.
func (p *prober) peek(fd uintptr) {
	var (
		n     int
		errno unix.Errno
	)
	for {
		n, errno = recvPeek(fd, p.buf[:])
		if errno != unix.EINTR {
			break
		}
	}
	switch errno {
	case 0:
		switch {
		case n > 0:
			p.res.l = LivenessReadable
		case p.readShut:
			// After our own shutdown(SHUT_RD) a receive returns 0 whatever
			// the peer did: nothing known.
		default:
			p.res.l = LivenessPeerClosed
		}
	case unix.EAGAIN: // EWOULDBLOCK is the same number on every system here
		p.res.l = LivenessOpen
	case unix.ECONNRESET, unix.ECONNABORTED, unix.EPIPE:
		p.res.l = LivenessReset
	case unix.ETIMEDOUT, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN, unix.ENETDOWN, unix.ENETRESET:
		// A pending socket error, handed to this receive: the conn is
		// broken, but not reset.
		p.res.err = errno
	default: // ENOTSOCK, ENOTCONN, EBADF, ...: nothing known
	}
}
