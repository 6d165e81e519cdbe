//go:build darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package trackedconn

import "golang.org/x/sys/unix"

// sockKindOf tells whether fd is a stream socket that a one-byte peek
// can judge (datagram sockets have no FIN, and an empty datagram reads as
// zero bytes).
func sockKindOf(fd uintptr) sockKind {
	typ, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		return sockUnknown
	}
	if isTCP(fd) {
		return sockTCP
	}
	return sockStream
}

// peek runs recv(MSG_PEEK|MSG_DONTWAIT) of one byte on fd: it neither
// blocks nor consumes data. It runs under p.mu, inside RawConn.Control.
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
			p.res.fin = p.tcp && !p.finKnown && finReceived(fd)
		case p.readShut:
			// After our own shutdown(SHUT_RD) a receive returns 0 whatever
			// the peer did.
			if p.tcp {
				p.res.l = readShutLiveness(fd)
			}
		default:
			p.res.l = LivenessPeerClosed
		}
	case unix.EAGAIN: // EWOULDBLOCK is the same number on every system here
		p.res.l = LivenessOpen
	case unix.ECONNRESET, unix.ECONNABORTED, unix.EPIPE:
		p.res.l = LivenessReset
	case unix.ETIMEDOUT, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN, unix.ENETDOWN, unix.ENETRESET:
		// A pending socket error, handed to this receive (and, on Linux,
		// forgotten by the kernel): the conn is broken, but not reset.
		p.res.err = errno
	default: // ENOTSOCK, ENOTCONN, EBADF, ...: nothing known
	}
}
