package trackedconn

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux TCP states (tcpi_state; include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpFinWait1    = 4
	tcpFinWait2    = 5
	tcpCloseWait   = 8
	tcpLastAck     = 9
	tcpClosing     = 11
)

// isTCP reports whether fd is a TCP socket. An MPTCP socket is not: its
// TCP_INFO state stays ESTABLISHED after the peer's FIN (Linux 6.18), so it
// is peeked at like any stream socket.
func isTCP(fd uintptr) bool {
	proto, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	return err == nil && proto == unix.IPPROTO_TCP
}

// tcpState returns the TCP state of fd, or 0. It asks TCP_INFO for one
// byte, tcpi_state, which the kernel copies without the rest of the
// struct: no allocation, no unsafe.
func tcpState(fd uintptr) uint8 {
	st, err := unix.GetsockoptByte(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0
	}
	return st
}

// finReceived reports whether the peer's FIN has arrived, whatever is
// still queued before it. TCP_CLOSE is not counted: it also follows a
// reset.
func finReceived(fd uintptr) bool {
	switch tcpState(fd) {
	case tcpCloseWait, tcpLastAck, tcpClosing:
		return true
	}
	return false
}

// readShutLiveness judges a TCP socket whose read side this end shut, from
// its state.
func readShutLiveness(fd uintptr) Liveness {
	switch tcpState(fd) {
	case tcpEstablished, tcpFinWait1, tcpFinWait2:
		return LivenessOpen
	case tcpCloseWait, tcpLastAck, tcpClosing:
		return LivenessPeerClosed
	}
	return LivenessUnknown
}

// recvPeek runs recv(MSG_PEEK|MSG_DONTWAIT) into b (not empty). It calls
// the system directly: unix.Recvfrom would allocate its address buffer on
// every call.
func recvPeek(fd uintptr, b []byte) (int, unix.Errno) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	return int(n), errno
}
