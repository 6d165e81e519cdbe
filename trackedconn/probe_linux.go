package trackedconn

import (
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux TCP states (tcpi_state; include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpSynSent     = 2
	tcpSynRecv     = 3
	tcpFinWait1    = 4
	tcpFinWait2    = 5
	tcpTimeWait    = 6
	tcpClose       = 7
	tcpCloseWait   = 8
	tcpLastAck     = 9
	tcpListen      = 10
	tcpClosing     = 11
)

var tcpStateNames = [...]string{
	tcpEstablished: "established",
	tcpSynSent:     "syn-sent",
	tcpSynRecv:     "syn-recv",
	tcpFinWait1:    "fin-wait-1",
	tcpFinWait2:    "fin-wait-2",
	tcpTimeWait:    "time-wait",
	tcpClose:       "close",
	tcpCloseWait:   "close-wait",
	tcpLastAck:     "last-ack",
	tcpListen:      "listen",
	tcpClosing:     "closing",
}

// sockKindOf tells whether fd is a TCP socket, an MPTCP socket or another
// stream socket. An MPTCP socket is not TCP here: its TCP_INFO is its first
// subflow's, whose state stays ESTABLISHED after the peer closed the
// connection (Linux 6.18), so poll judges it (peekMPTCP).
func sockKindOf(fd uintptr) sockKind {
	typ, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		return sockUnknown
	}
	proto, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	switch {
	case err != nil:
		return sockStream
	case proto == unix.IPPROTO_TCP:
		return sockTCP
	case proto == unix.IPPROTO_MPTCP:
		return sockMPTCP
	}
	return sockStream
}

// kernelTCPInfo is struct tcp_info as the kernel fills it.
type kernelTCPInfo = unix.TCPInfo

// tcpInfoPool holds the buffers TCP_INFO is read into, so that probes do
// not allocate and a prober does not carry 248 bytes for its whole life.
var tcpInfoPool = sync.Pool{New: func() any { return new(kernelTCPInfo) }}

// getTCPInfo reads TCP_INFO of fd into ti. It calls the system directly:
// unix.GetsockoptTCPInfo allocates its result on every call. A kernel
// older than x/sys's struct fills a prefix and leaves the rest zero.
func getTCPInfo(fd uintptr, ti *kernelTCPInfo) bool {
	*ti = kernelTCPInfo{}
	n := uint32(unsafe.Sizeof(*ti))
	_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO,
		uintptr(unsafe.Pointer(ti)), uintptr(unsafe.Pointer(&n)), 0)
	return errno == 0
}

// Stall thresholds of the rule in stalledKernel (see the package doc).
const (
	// stallRetransmits is how many retransmission timeouts in a row, with
	// no acknowledgment since, make a conn with data in flight stalled.
	stallRetransmits = 1
	// stallProbes is how many keepalive or zero-window probes in a row
	// must go unanswered. A live peer answers each within one round trip,
	// and the kernel counts the unanswered ones from zero again at every
	// acknowledgment; one probe may be in flight, two in a row are not.
	stallProbes = 2
)

// usec converts the kernel's microsecond counts.
func usec(v uint32) time.Duration { return time.Duration(v) * time.Microsecond }

// stalledKernel reports whether the kernel's view shows a peer that stopped
// answering: data is in flight and a retransmission timeout fired with no
// acknowledgment since, or keepalive (or zero-window) probes went
// unanswered twice in a row. A live peer that stopped reading keeps
// acknowledging (its zero window answers the probes) and is not stalled.
func stalledKernel(k *kernelTCPInfo) bool {
	return k.Unacked > 0 && uint32(k.Retransmits) >= stallRetransmits || uint32(k.Probes) >= stallProbes
}

// tcpInfoFrom converts the kernel's view into a TCPInfo.
func tcpInfoFrom(k *kernelTCPInfo) TCPInfo {
	state := ""
	if int(k.State) < len(tcpStateNames) {
		state = tcpStateNames[k.State]
	}
	return TCPInfo{
		State:        state,
		RTT:          usec(k.Rtt),
		RTTVar:       usec(k.Rttvar),
		RTO:          usec(k.Rto),
		Unacked:      k.Unacked,
		Retransmits:  uint32(k.Retransmits),
		TotalRetrans: k.Total_retrans,
		Probes:       uint32(k.Probes),
		LastDataSent: msec(k.Last_data_sent),
		LastDataRecv: msec(k.Last_data_recv),
		LastAckRecv:  msec(k.Last_ack_recv),
		SndWnd:       k.Snd_wnd,
		NotSent:      k.Notsent_bytes,
	}
}

// pendingError reports whether fd has a socket error waiting for the next
// receive, without taking it: poll reports POLLERR and leaves sk_err alone,
// where a receive, even with MSG_PEEK, would hand it over and clear it.
func (p *prober) pendingError(fd uintptr) (pending, readable bool) {
	ev := p.poll(fd)
	return ev&unix.POLLERR != 0, ev&(unix.POLLIN|unix.POLLRDHUP|unix.POLLHUP) != 0
}

// poll returns the events poll reports on fd for reading, without waiting.
func (p *prober) poll(fd uintptr) int16 {
	p.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}
	for {
		_, err := unix.Poll(p.pfd[:], 0)
		if err != unix.EINTR {
			break
		}
	}
	return p.pfd[0].Revents
}

// inq returns how many bytes wait to be read on fd (SIOCINQ), or -1.
func inq(fd uintptr) int {
	n, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	if err != nil {
		return -1
	}
	return n
}

// peek judges fd without receiving anything, so that neither data nor a
// pending error (a reset) is taken from the application: on Linux a
// receive hands a socket error to one caller only, MSG_PEEK or not. It runs
// under p.mu, inside RawConn.Control.
func (p *prober) peek(fd uintptr) {
	switch {
	case p.tcp:
		p.peekTCP(fd)
		return
	case p.mptcp:
		p.peekMPTCP(fd)
		return
	}
	// Another stream socket (Unix): poll, then count the queued bytes.
	pending, readable := p.pendingError(fd)
	switch {
	case pending:
		p.res.l = LivenessReset
	case p.readShut:
		// After our own shutdown(SHUT_RD) the socket reads as shut whatever
		// the peer did.
	case !readable:
		p.res.l = LivenessOpen
	case inq(fd) > 0:
		p.res.l = LivenessReadable
	default:
		p.res.l = LivenessPeerClosed
	}
}

// peekTCP judges a TCP socket from TCP_INFO (its state, and the stall rule
// of stalled) and the number of bytes queued for reading. For a look at
// Close (p.atClose), where what is queued does not matter, TCP_INFO alone
// judges: a FIN known is reported as readable with the FIN behind.
func (p *prober) peekTCP(fd uintptr) {
	ti := p.ti
	if !getTCPInfo(fd, ti) {
		return
	}
	if p.wantInfo {
		p.res.info, p.res.hasInfo = tcpInfoFrom(ti), true
	}
	switch ti.State {
	case tcpEstablished, tcpFinWait1, tcpFinWait2:
		switch {
		case !p.readShut && !p.atClose && inq(fd) > 0:
			p.res.l = LivenessReadable
		case stalledKernel(ti):
			p.res.l = LivenessStalled
		default:
			p.res.l = LivenessOpen
		}
		if p.mayMPTCP {
			// An MPTCP socket's TCP_INFO is its first subflow's, which
			// does not show the end of the connection: poll does.
			l := p.res.l
			p.peekMPTCP(fd)
			if !p.res.fin && p.res.l != LivenessReset && p.res.l != LivenessPeerClosed {
				p.res.l = l
			}
		}
	case tcpCloseWait, tcpLastAck, tcpClosing:
		// The peer's FIN has arrived, whatever is still queued before it.
		if !p.readShut && (p.atClose || inq(fd) > 0) {
			p.res.l, p.res.fin = LivenessReadable, !p.finKnown
		} else {
			p.res.l = LivenessPeerClosed
		}
	case tcpClose:
		p.judgeClosed(fd, ti)
	}
}

// peekMPTCP judges an MPTCP socket by poll, which reports the connection's
// end where its TCP_INFO, the first subflow's, does not. Two things differ
// from another stream socket: SIOCINQ counts one byte more than is queued
// once the peer's DATA_FIN is in (or the connection is closed), and POLLHUP
// without our own CloseWrite means the connection is closed without a FIN
// of ours: a reset, or the kernel gave up. A pending error is left for the
// next Read. No stall is judged: the first subflow's retransmissions do not
// tell whether another subflow carries the data.
func (p *prober) peekMPTCP(fd uintptr) {
	ev := p.poll(fd)
	ended := ev&(unix.POLLRDHUP|unix.POLLHUP) != 0
	switch {
	case ev&unix.POLLERR != 0:
		p.res.l = LivenessReset
	case p.readShut:
		// After our own shutdown(SHUT_RD) the socket reads as shut.
	case !ended && ev&unix.POLLIN == 0:
		p.res.l = LivenessOpen
	case !ended:
		p.res.l = LivenessReadable
	case ev&unix.POLLHUP != 0 && !p.writeShut:
		p.res.l = LivenessReset
	case p.atClose || inq(fd) > 1:
		p.res.l, p.res.fin = LivenessReadable, !p.finKnown
	default:
		p.res.l = LivenessPeerClosed
	}
}

// judgeClosed judges a TCP socket in state CLOSE. It gets there after a
// reset, when the kernel gave up (retransmissions, keepalive,
// TCP_USER_TIMEOUT: ETIMEDOUT), or at the end of an orderly close, which
// needs our own FIN. A pending error (POLLERR), or no FIN of ours, means one
// of the first two, even when another reader of the descriptor (a pool's
// liveness check) already took the error; retransmissions or probes in
// flight tell a timeout from a reset.
//
// At Close the pending error itself may be taken: EPIPE is what Linux
// records for an RST that arrives after the peer's FIN (typically the
// answer to a last write of ours, such as a pool's ping or TLS's
// close_notify), so the peer closed first.
func (p *prober) judgeClosed(fd uintptr, ti *kernelTCPInfo) {
	pending, _ := p.pendingError(fd)
	if !pending && p.writeShut {
		if !p.readShut && inq(fd) > 0 {
			p.res.l, p.res.fin = LivenessReadable, !p.finKnown
		} else {
			p.res.l = LivenessPeerClosed
		}
		return
	}
	if pending && p.atClose {
		if e, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); err == nil && unix.Errno(e) == unix.EPIPE {
			p.res.l = LivenessPeerClosed
			return
		}
	}
	if ti.Retransmits > 0 || ti.Probes > 0 {
		p.res.l, p.res.gaveUp = LivenessStalled, true
		return
	}
	p.res.l = LivenessReset
}

// tcpInfoOf reads the TCP_INFO of fd into p.res (for Conn.TCPInfo). It runs
// under p.mu, inside RawConn.Control.
func (p *prober) tcpInfoOf(fd uintptr) {
	if getTCPInfo(fd, p.ti) {
		p.res.info, p.res.hasInfo = tcpInfoFrom(p.ti), true
	}
}

// getTCPBuf and putTCPBuf lend p a TCP_INFO buffer for one run.
func (p *prober) getTCPBuf() { p.ti = tcpInfoPool.Get().(*kernelTCPInfo) }
func (p *prober) putTCPBuf() { tcpInfoPool.Put(p.ti); p.ti = nil }

// closeProber is what a look at the first Close works with (lookTCP): a
// prober that is never shared, with its own result and TCP_INFO buffer, so
// that a conn never probed does not get a prober of its own just to be
// closed, and a look takes nothing from the other pools and no lock.
type closeProber struct {
	prober
	res probeResult
	ti  kernelTCPInfo
}

var closeProbers = sync.Pool{New: func() any {
	p := &closeProber{}
	p.tcp = true
	p.prober.res, p.prober.ti = &p.res, &p.ti
	p.fn = p.peekTCP
	return p
}}

// lookTCP judges the TCP socket of rc (a *net.TCPConn's) for its first
// Close, with one getsockopt, and a poll after it if mayMPTCP and TCP_INFO
// shows no end; ok is false if the descriptor is gone. f is the conn's
// flags.
func lookTCP(rc syscall.RawConn, f uint32, mayMPTCP bool) (r probeResult, ok bool) {
	p := closeProbers.Get().(*closeProber)
	p.setInputs(f, true, false)
	p.mayMPTCP = mayMPTCP
	p.res = probeResult{}
	err := rc.Control(p.fn)
	r = p.res
	closeProbers.Put(p)
	return r, err == nil
}
