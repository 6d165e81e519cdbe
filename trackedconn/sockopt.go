package trackedconn

import (
	"log/slog"
	"net"
)

// applySockOpts applies WithKeepAlive and WithUserTimeout to the TCP socket
// beneath c, logging what fails.
func (s *core) applySockOpts(c net.Conn) {
	tc := tcpConnOf(c)
	if tc == nil {
		return
	}
	if ka := s.cfg.keepAlive; ka != nil {
		if err := tc.SetKeepAliveConfig(*ka); err != nil {
			slog.Error("trackedconn: WithKeepAlive", "conn", s.getID(), "err", err)
		}
	}
	if d := s.cfg.userTimeout; d > 0 {
		if err := setUserTimeout(tc, d); err != nil {
			slog.Error("trackedconn: WithUserTimeout", "conn", s.getID(), "err", err)
		}
	}
}

// tcpConnOf finds the *net.TCPConn beneath c through NetConn methods, or
// nil.
func tcpConnOf(c net.Conn) *net.TCPConn {
	for range 8 { // wrappers of wrappers, but never a cycle
		switch v := c.(type) {
		case *net.TCPConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}
