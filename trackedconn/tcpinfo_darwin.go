package trackedconn

import "golang.org/x/sys/unix"

// tcpInfoOffLinux: darwin reads TCP_CONNECTION_INFO of *net.TCPConn
// sockets.
const tcpInfoOffLinux = true

// darwin TCP states (tcpi_state; netinet/tcp_fsm.h).
var tcpStateNames = [...]string{
	0: "close", 1: "listen", 2: "syn-sent", 3: "syn-recv", 4: "established",
	5: "close-wait", 6: "fin-wait-1", 7: "closing", 8: "last-ack", 9: "fin-wait-2", 10: "time-wait",
}

// tcpInfoOf reads TCP_CONNECTION_INFO of fd into p.res. darwin reports no
// unacknowledged segment count, retransmission streak, probe count or unsent
// byte count: those
// fields stay zero, and Probe does not judge stalls here.
func (p *prober) tcpInfoOf(fd uintptr) {
	k, err := unix.GetsockoptTCPConnectionInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_CONNECTION_INFO)
	if err != nil {
		return
	}
	state := ""
	if int(k.State) < len(tcpStateNames) {
		state = tcpStateNames[k.State]
	}
	p.res.info = TCPInfo{
		State:  state,
		RTT:    msec(k.Srtt),
		RTTVar: msec(k.Rttvar),
		RTO:    msec(k.Rto),
		SndWnd: k.Snd_wnd,
	}
	p.res.hasInfo = true
}
