package main

import "github.com/connwatch/connwatch/trackedconn"

// wasReset reports whether src, whose copy just ended with EOF, was reset
// rather than closed with a FIN. A socket reports a reset to one call only:
// when a write in the other direction (to the same peer) took it, the read
// gets a plain EOF. The kernel's TCP state still tells them apart: a FIN
// leaves the socket in CLOSE_WAIT, a reset in CLOSE. After our own
// CloseWrite a FIN also ends in CLOSE (TIME_WAIT), but then no write of
// ours can have taken the reset: shut says that CloseWrite was called or
// is about to be (State.WriteShut is set only once it returned).
func wasReset(src *trackedconn.Conn, shut bool) bool {
	s := src.State()
	if s.Reset {
		return true
	}
	return !shut && !s.WriteShut && tcpStateClose(src)
}

// tcpStateClose reports whether the kernel shows c's TCP socket in the
// CLOSE state (false where TCPInfo has no state).
func tcpStateClose(c *trackedconn.Conn) bool {
	info, err := c.TCPInfo()
	return err == nil && info.State == "close"
}
