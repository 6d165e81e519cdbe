package main

import (
	"time"

	"github.com/connwatch/connwatch/trackedconn"
	"golang.org/x/sys/unix"
)

// tcpClose is Linux's TCP_CLOSE state (include/net/tcp_states.h).
const tcpClose = 7

// tcpInfo reads the kernel's TCP_INFO of c's socket.
func tcpInfo(c *trackedconn.Conn) (*unix.TCPInfo, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, false
	}
	var info *unix.TCPInfo
	cerr := rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	return info, cerr == nil && err == nil
}

// tcpStateClose reports whether c's TCP socket is in the CLOSE state.
func tcpStateClose(c *trackedconn.Conn) bool {
	info, ok := tcpInfo(c)
	return ok && info.State == tcpClose
}

// kernelLastData returns when c's socket last sent or received data, as
// the kernel saw it (bytes that a splice moves are seen at once), or false.
func kernelLastData(c *trackedconn.Conn, now time.Time) (time.Time, bool) {
	info, ok := tcpInfo(c)
	if !ok {
		return time.Time{}, false
	}
	ago := min(info.Last_data_recv, info.Last_data_sent)
	return now.Add(-time.Duration(ago) * time.Millisecond), true
}
