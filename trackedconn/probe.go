package trackedconn

import (
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
)

// Probe reports whether the conn is still alive, without blocking and
// without consuming data or a pending error. It is safe to call
// concurrently with Read, Write and Close, also while another goroutine is
// blocked in Read and whatever the deadlines.
//
// It answers from the recorded state first, without a system call:
// LivenessClosed once Close was called, LivenessReset once a reset was seen,
// LivenessPeerClosed once a read returned io.EOF, LivenessStalled once a
// Read or Write failed with ETIMEDOUT. Otherwise, when the wrapped conn, or
// a conn under it reached through NetConn methods (as for *tls.Conn), has a
// stream socket, it looks at the socket:
//
//	nothing to read                       LivenessOpen
//	data waiting                          LivenessReadable (a FIN queued behind
//	                                      the data also sets State.PeerClosed)
//	FIN, nothing before it                LivenessPeerClosed
//	RST (ECONNRESET, ECONNABORTED)        LivenessReset
//	the peer stopped answering (TCP)      LivenessStalled (see the package doc)
//
// On Linux it never receives: a TCP socket is judged from TCP_INFO and the
// count of queued bytes, another stream socket from poll and that count,
// and a pending error is seen (POLLERR) without being taken, so the
// application's next Read still returns ECONNRESET. Elsewhere it peeks at
// one byte with recv(MSG_PEEK|MSG_DONTWAIT), run through the raw conn's
// Control; BSD kernels keep a pending error for the next receive.
//
// A FIN or reset found this way is recorded in State (PeerClosed, Reset,
// and the Cause a later Close decides) and fires EventPeerClosed or
// EventReset on the calling goroutine. A stall records nothing.
//
// Once the conn has been probed, a probe does not allocate on Linux.
//
// Probe returns LivenessUnknown where nothing can be learned without
// blocking or consuming: on Windows, for conns without a descriptor
// (net.Pipe, custom conns) or that are not stream sockets (UDP), after a
// Read or Write failed with an error other than io.EOF, a reset, ETIMEDOUT
// or a deadline (a TLS alert, ...), and after CloseRead (except for TCP on
// Linux, where the TCP state still tells open from peer-closed). It never
// guesses LivenessOpen.
//
// Probe sees the socket, not the conns above it. Bytes already buffered
// inside a *tls.Conn or a bufio.Reader are invisible to it (a conn may say
// LivenessOpen while a Read would return data at once). TLS records that
// carry no application data, such as session tickets or the peer's
// close_notify alert, make the socket LivenessReadable. A peer that
// vanished without sending FIN or RST looks LivenessOpen on an idle conn
// without keepalive: nothing was sent that could go unanswered.
func (c *Conn) Probe() Liveness {
	l := c.s.probeLiveness()
	runtime.KeepAlive(c) // the leak detector must not close the conn mid-probe
	return l
}

// recordedLiveness answers Probe from the flags, if they tell.
func recordedLiveness(f uint32) (Liveness, bool) {
	switch {
	case f&flagClosed != 0:
		return LivenessClosed, true
	case f&flagReset != 0:
		return LivenessReset, true
	case f&flagEOF != 0:
		return LivenessPeerClosed, true
	case Cause(f>>termShift&causeMask) == CauseStalled:
		// The kernel gave up on the conn (ETIMEDOUT).
		return LivenessStalled, true
	case Cause(f>>termShift&causeMask) == CauseError:
		// The kernel may have handed the error to that operation and
		// forgotten it: a peek would now see a harmless-looking EOF.
		return LivenessUnknown, true
	}
	return LivenessUnknown, false
}

func (s *core) probeLiveness() Liveness {
	l, _ := s.probeFull(nil, false)
	return l
}

// probeFull probes the socket and records what it found; with info not
// nil it also returns the TCP_INFO the probe read, into *info (false if
// none was read). atClose is for the look of the first Close, which may
// take a pending error: the socket is about to be closed.
func (s *core) probeFull(info *TCPInfo, atClose bool) (Liveness, bool) {
	f := s.flags.Load()
	if l, ok := recordedLiveness(f); ok {
		return l, false
	}
	p := s.prober()
	if p.rc == nil {
		return LivenessUnknown, false
	}
	r, err := p.run(p.fn, f, atClose, info != nil)
	if err != nil {
		// The descriptor is gone, maybe closed by a concurrent Close.
		if s.flags.Load()&flagClosed != 0 {
			return LivenessClosed, false
		}
		return LivenessUnknown, false
	}
	s.record(r)
	if info != nil && r.hasInfo {
		*info = r.info
	}
	return r.l, r.hasInfo
}

// record keeps in State what a probe found. A probe is not a Read: it
// leaves TimedOut alone.
func (s *core) record(r probeResult) {
	switch r.l {
	case LivenessReadable:
		if r.fin {
			s.transition(flagPeerClosed, 0, flagPeerClosed, CausePeer, EventPeerClosed)
		}
	case LivenessPeerClosed:
		s.transition(flagPeerClosed|flagEOF, 0, flagPeerClosed, CausePeer, EventPeerClosed)
	case LivenessReset:
		s.transition(flagReset, 0, flagReset, CauseReset, EventReset)
	case LivenessStalled:
		if r.gaveUp {
			s.recordTerminal(CauseStalled)
		}
	case LivenessUnknown:
		if r.err != nil {
			// The kernel handed the socket's pending error (ETIMEDOUT,
			// EHOSTUNREACH, ...) to the peek; keep it in State.
			s.fail(r.err, true)
		}
	}
}

// prober peeks at one socket. Its peek function is bound once, so that a
// probe does not allocate; mu serializes the probes that share it.
type prober struct {
	rc  syscall.RawConn // nil: nothing to peek at
	fn  func(fd uintptr)
	tfn func(fd uintptr) // reads TCP_INFO only (Conn.TCPInfo)
	tcp bool             // a TCP socket whose TCP_INFO the probe reads (Linux)
	// mptcp: an MPTCP socket (Linux), judged by poll: its TCP_INFO is its
	// first subflow's.
	mptcp bool
	// atClose: in, a look at the first Close: TCP_INFO alone answers, and
	// a pending error may be taken.
	atClose bool
	// tcpConn: the socket belongs to a *net.TCPConn (Conn.TCPInfo off
	// Linux).
	tcpConn bool
	// wantInfo: in, the caller wants the kernel's view the run reads, as a
	// TCPInfo in res.info (Probe alone and the look at Close do not).
	wantInfo bool
	// mayMPTCP: in, for a look at Close through TCP_INFO (lookTCP), the
	// socket may be MPTCP, so an open TCP state must be checked by poll.
	mayMPTCP bool

	mu        sync.Mutex
	readShut  bool // in: CloseRead was called on this side
	writeShut bool // in: CloseWrite was called on this side
	finKnown  bool // in: the peer's FIN is recorded already
	// res is what a run finds, lent from resPool for the run only, so that
	// a probed conn does not keep a result (120 bytes) for its whole life.
	res *probeResult
	probeScratch
}

// probeResult is what one peek found.
type probeResult struct {
	l   Liveness
	fin bool  // with LivenessReadable: the peer's FIN is queued behind the data
	err error // with LivenessUnknown: a pending socket error the peek consumed (not on Linux)
	// gaveUp: with LivenessStalled, the kernel gave up on the conn
	// (ETIMEDOUT is pending or was taken by another reader).
	gaveUp  bool
	hasInfo bool    // info was read
	info    TCPInfo // the kernel's view, read by the same probe (Linux)
}

// noProber stands for a conn without a stream socket.
var noProber = &prober{}

// newProber returns a prober for rc, or noProber if rc is not a stream
// socket that can be peeked at on this platform.
func newProber(rc syscall.RawConn) *prober {
	k := sockUnknown
	if err := rc.Control(func(fd uintptr) { k = sockKindOf(fd) }); err != nil || k == sockUnknown {
		return noProber
	}
	p := &prober{rc: rc, tcp: k == sockTCP, mptcp: k == sockMPTCP}
	p.fn = p.peek
	p.tfn = p.tcpInfoOf
	return p
}

// sockKind is the kind of socket a prober works on.
type sockKind uint8

const (
	sockUnknown sockKind = iota // not a stream socket, or no peeking here
	sockStream                  // a stream socket (Unix, or TCP where the kind is not told)
	sockTCP                     // a TCP socket
	sockMPTCP                   // an MPTCP socket (Linux)
)

// prober returns the conn's cached prober, finding the socket on first use.
func (s *core) prober() *prober {
	if p := s.probe.Load(); p != nil {
		return p
	}
	p := noProber
	if rc, tcpConn := rawConnKind(s.inner); rc != nil {
		p = newProber(rc)
		if p != noProber {
			p.tcpConn = tcpConn
		}
	}
	s.probe.CompareAndSwap(nil, p)
	return s.probe.Load()
}

// run peeks once, as peek (or tcpInfoOf, with fn) does. It returns the
// raw conn's error if it refused (the descriptor is closed).
func (p *prober) run(fn func(fd uintptr), f uint32, atClose, wantInfo bool) (probeResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setInputs(f, atClose, wantInfo)
	p.res = resPool.Get().(*probeResult)
	*p.res = probeResult{}
	p.getTCPBuf()
	err := p.rc.Control(fn)
	p.putTCPBuf()
	r := *p.res
	resPool.Put(p.res)
	p.res = nil
	if err != nil {
		return probeResult{}, err
	}
	return r, nil
}

// resPool holds the results runs work in.
var resPool = sync.Pool{New: func() any { return new(probeResult) }}

// setInputs sets what a run needs to know of the conn, from its flags f,
// and whether it wants the kernel's view.
func (p *prober) setInputs(f uint32, atClose, wantInfo bool) {
	p.readShut, p.writeShut, p.finKnown = f&flagReadShut != 0, f&flagWriteShut != 0, f&flagPeerClosed != 0
	p.atClose, p.wantInfo = atClose, wantInfo
}

// peek probes x (an io.Reader or io.Writer given to a copy) once; it is
// LivenessUnknown if x has no stream socket. It records nothing.
func peek(x any) Liveness {
	rc := rawConnOf(x)
	if rc == nil {
		return LivenessUnknown
	}
	p := newProber(rc)
	if p.rc == nil {
		return LivenessUnknown
	}
	r, _ := p.run(p.fn, 0, false, false)
	return r.l
}

// rawConnOf finds the raw conn of x, looking through tracked conns, NetConn
// methods (*tls.Conn and other wrappers) and io.LimitedReader (io.CopyN).
// It returns nil if there is none.
func rawConnOf(x any) syscall.RawConn {
	rc, _ := rawConnKind(x)
	return rc
}

// rawConnKind is rawConnOf, and also reports whether the raw conn belongs
// to a *net.TCPConn.
func rawConnKind(x any) (rc syscall.RawConn, tcp bool) {
	for range 8 { // wrappers of wrappers, but never a cycle
		switch v := x.(type) {
		case *Conn:
			x = v.inner
			continue
		case *io.LimitedReader:
			x = v.R
			continue
		}
		if sc, ok := x.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				_, tcp = x.(*net.TCPConn)
				return rc, tcp
			}
		}
		nc, ok := x.(interface{ NetConn() net.Conn })
		if !ok {
			return nil, false
		}
		x = nc.NetConn()
	}
	return nil, false
}

// lookBeforeClose looks at the socket once before the first Close when
// nothing terminal was recorded, so that the Cause is right also when
// something else found the end first (a pool's liveness check that read
// the raw descriptor, or a client that closes on an error message the
// peer's FIN follows). A FIN or reset it finds is recorded as Probe
// records it; it reports whether the socket is stalled. On a Linux TCP
// conn never probed before it costs one getsockopt (TCP_INFO), without
// building the conn's prober, and a poll as well when TCP_INFO shows no end
// and the conn may be MPTCP (it was not handed out by a plain TCP listener
// or a dialer that does not use MPTCP).
func (s *core) lookBeforeClose() bool {
	f := s.flags.Load()
	if f&flagClosed != 0 || f>>termShift&causeMask != 0 {
		return false
	}
	if s.probe.Load() == nil {
		rc, tcp := rawConnKind(s.inner)
		if rc == nil {
			return false // no socket to look at
		}
		if tcp {
			if r, ok := lookTCP(rc, f, !s.cfg.plainTCP); ok {
				s.record(r)
				return r.l == LivenessStalled
			}
		}
	}
	l, _ := s.probeFull(nil, true)
	return l == LivenessStalled
}
