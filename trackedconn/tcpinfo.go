package trackedconn

import (
	"errors"
	"fmt"
	"runtime"
	"time"
)

// TCPInfo is the kernel's view of a TCP connection (TCP_INFO on Linux,
// TCP_CONNECTION_INFO on darwin), as Conn.TCPInfo and Group.Probe read it.
// Fields the platform does not report are zero.
type TCPInfo struct {
	State        string        // kernel TCP state: "established", "close-wait", "fin-wait-1", ... ("" if unknown)
	RTT, RTTVar  time.Duration // smoothed round-trip time and its variation
	RTO          time.Duration // current retransmission timeout (with backoff)
	Unacked      uint32        // segments sent and not yet acknowledged
	Retransmits  uint32        // retransmission timeouts in a row for the oldest unacknowledged segment
	TotalRetrans uint32        // segments retransmitted over the conn's life
	Probes       uint32        // keepalive or zero-window probes sent and not answered
	LastDataSent time.Duration // how long ago data was last sent
	LastDataRecv time.Duration // how long ago data was last received
	LastAckRecv  time.Duration // how long ago an acknowledgment was last received
	SndWnd       uint32        // the peer's advertised receive window in bytes (0: the peer is not reading)
	NotSent      uint32        // bytes written by the application, not yet sent
}

// TCPInfo returns the kernel's view of the conn's TCP socket, read with one
// getsockopt, also beneath a *tls.Conn or another conn with a NetConn
// method. It never blocks and never reads. It returns an error matching
// errors.ErrUnsupported for conns that are not TCP (an MPTCP conn, whose
// TCP_INFO describes one subflow, included) and on platforms without such
// a view (Linux and darwin have one), and the raw conn's error
// (matching net.ErrClosed) once the socket is closed.
func (c *Conn) TCPInfo() (TCPInfo, error) {
	ti, err := c.s.tcpInfo()
	runtime.KeepAlive(c) // the leak detector must not close the socket mid-read
	return ti, err
}

func (s *core) tcpInfo() (TCPInfo, error) {
	p := s.prober()
	if p.rc == nil || !(p.tcp || p.tcpConn && tcpInfoOffLinux) {
		return TCPInfo{}, fmt.Errorf("trackedconn: TCPInfo of %T: %w", s.inner, errNoTCPInfo)
	}
	r, err := p.run(p.tfn, 0, false, true)
	if err != nil {
		return TCPInfo{}, err
	}
	if !r.hasInfo {
		return TCPInfo{}, fmt.Errorf("trackedconn: TCPInfo of %T: the kernel refused: %w", s.inner, errNoTCPInfo)
	}
	return r.info, nil
}

var errNoTCPInfo = fmt.Errorf("no TCP_INFO here: %w", errors.ErrUnsupported)
