// Package trackedconn wraps a net.Conn so that it can tell whether it is
// still alive, who closed it and why.
//
// net.Conn has no IsClosed method. A tracked conn records its lifecycle in
// atomic fields on every Read, Write, Close, CloseRead and CloseWrite, keeps
// byte counters and timestamps, and reports each transition once to the
// hooks given with WithHook. It complements package net the way
// golang.org/x/net/netutil does: wrap, and use the result where a net.Conn
// was used before.
//
//	c := trackedconn.Wrap(conn, trackedconn.WithName("upstream"))
//	defer c.Close()
//	...
//	if c.IsClosed() { ... }
//	st := c.State()
//	fmt.Println(st.PeerClosed, st.Reset, st.TimedOut, st.BytesRead, st.Cause)
//	switch c.Probe() { // non-blocking, non-consuming
//	case trackedconn.LivenessPeerClosed, trackedconn.LivenessReset:
//		// the peer is gone
//	}
//
// Servers and clients get tracked conns from package listener and package
// dialer; package hooks fans events out to metrics and logs.
//
// # State
//
// Each flag is set once and never cleared, except TimedOut:
//
//	flag        set when                                         event
//	Closed      Close is called (first call)                     EventClose, after the inner Close returned
//	PeerClosed  a read returns io.EOF, or Probe finds FIN        EventPeerClosed
//	ReadShut    CloseRead succeeds                               EventReadShut
//	WriteShut   CloseWrite succeeds                              EventWriteShut
//	Reset       ECONNRESET, ECONNABORTED or EPIPE is seen        EventReset
//	TimedOut    the latest failed Read/Write hit a deadline;     (none)
//	            a later successful one clears it
//
// EventOpen fires when the conn is wrapped; EventLeak when the leak
// detector reclaims it (see WithLeakDetection). Every event fires at most
// once per conn, and a conn that is closed or reclaimed has exactly one
// EventOpen and one EventClose, the last of its events. Transitions seen
// after the first Close (an io.EOF returned to a Read racing with Close, for
// example) are not recorded: State after EventClose is final.
//
// A deadline that has already passed when it is set (SetReadDeadline of a
// time in the past) is how Go code interrupts a blocked Read or Write on
// purpose: net/http's server does it after every response it closes. The
// operation it ends is an interruption, not a timeout: it records nothing,
// and TimedOut stays as it was.
//
// IsClosed is true once no more I/O is possible: Closed, or Reset, or a
// read reached the peer's EOF and WriteShut, or ReadShut and WriteShut.
//
// Cause is decided at the first Close from what was seen before it: the
// first terminal event (CausePeer for io.EOF, CauseReset, CauseStalled for
// ETIMEDOUT, CauseError for any other error that is not a deadline). When
// none was seen, Close first looks at the socket once, as Probe does and
// without reading: a FIN already there makes the Cause CausePeer (and sets
// PeerClosed), an RST CauseReset, a stall (see LivenessStalled)
// CauseStalled. Else CauseTimeout if the latest failed operation hit a
// deadline, else CauseLocal. CauseLeak when the leak detector closed the
// conn (it does not look). The look makes the Cause right also when
// something else found the end first: a pool whose liveness check reads the
// raw descriptor (go-redis, go-sql-driver/mysql), or a client that closes
// on the server's last error message while the server's FIN waits behind
// it. Cause is CauseNone while the conn is open, even if it was reset: look
// at the flags for that.
//
// io.ErrUnexpectedEOF counts as the peer's EOF; net.ErrClosed (our own
// Close) records nothing and leaves TimedOut as it is; an io.EOF read after
// our own CloseRead, or after a reset (Linux reports a reset to one read
// only), is not the peer's. Errors are classified with errors.Is and errors.As only (see
// internal/errclass) and always returned unchanged.
//
// # How do I know a conn is closed?
//
// net.Conn cannot tell. A tracked conn answers from what it saw and, when
// asked, from the socket:
//
//   - IsClosed reports that no more I/O is possible: Close was called, the
//     conn was reset, or both directions are shut (the peer's FIN and our
//     CloseWrite, or CloseRead and CloseWrite).
//   - State says who did what: Closed (we called Close), PeerClosed (the
//     peer sends no more), ReadShut and WriteShut (our half-closes), Reset,
//     TimedOut. Cause, decided at the first Close, says why the conn ended.
//   - Probe asks the socket without reading and without waiting, and
//     answers open, readable, peer-closed, reset or stalled; it records a
//     FIN or reset it finds (with its event). On Linux it never receives:
//     TCP_INFO (the TCP state and the stall rule below) and the count of
//     queued bytes (SIOCINQ) judge a TCP socket, and poll's POLLERR tells a
//     pending error without taking it, so the application's next Read still
//     gets its ECONNRESET. Elsewhere one recv(MSG_PEEK|MSG_DONTWAIT) tells
//     (BSD kernels keep a pending error for the next receive). It works
//     while another goroutine is blocked in Read and whatever the
//     deadlines, and looks through a *tls.Conn at the TCP socket beneath.
//     On Linux it also sees a FIN queued behind unread data (CLOSE_WAIT):
//     PeerClosed is set while Probe still says readable, until the data is
//     read. Where there is no socket to look at (Windows, net.Pipe, custom
//     conns, UDP) it says LivenessUnknown, never open.
//   - TCPInfo shows the kernel's view of a TCP conn (state, RTT, RTO,
//     retransmissions, probes, the peer's window) with one getsockopt.
//   - WithLeakDetection reclaims a conn dropped without Close (EventLeak,
//     then EventClose with CauseLeak, the socket closed), and State.Origin
//     says where it was opened. Group.Conns, OlderThan and IdleFor list the
//     live conns with their ages, to find those still referenced but
//     forgotten.
//
// Some things cannot be known, by this package or any other:
//
//   - A peer that vanished without a FIN or RST reaching us (power cut,
//     pulled cable, a NAT that forgot the flow), on an idle conn without
//     keepalive, looks open: nothing was sent, so nothing went unanswered.
//     Probe says stalled only once the kernel has evidence (see "Stalled
//     peers"); it never guesses.
//   - Probe sees the socket, not the buffers above it: bytes already read
//     into a *tls.Conn or a bufio.Reader are invisible to it, and TLS
//     records without application data (session tickets, the peer's
//     close_notify) make the socket readable.
//   - A zero-byte Write detects nothing, with or without a short write
//     deadline: nothing reaches the network. At best it returns an error
//     already pending after a reset.
//   - The first Write after the peer's FIN usually succeeds: the socket is
//     in CLOSE_WAIT and the kernel takes the bytes; the peer answers with
//     RST and only a later Write fails (EPIPE or ECONNRESET).
//   - LocalAddr and RemoteAddr stay non-nil after Close and after the peer
//     left: they say nothing about liveness.
//   - A Read with a deadline already past returns the timeout before it
//     looks at the socket; a short future deadline waits for it, eats a byte
//     if one is there, and replaces the caller's deadline.
//   - Linux reports a reset to one receive only: once a Read (or another
//     reader of the descriptor) has taken it, reads return io.EOF. Probe
//     never takes it; State.Reset and Cause keep the reset.
//
// # Stalled peers
//
// A peer that vanished without FIN or RST leaves the socket ESTABLISHED:
// the kernel retransmits unacknowledged data for about 15 minutes
// (tcp_retries2) and an idle conn sends nothing at all until keepalive
// starts (Go's default: 15 s idle, then 9 probes 15 s apart). The kernel
// knows much earlier, and on Linux Probe reads it from TCP_INFO without
// sending a byte. LivenessStalled is the answer when
//
//   - data is in flight (tcpi_unacked > 0) and a retransmission timeout
//     fired for the oldest unacknowledged segment with no acknowledgment
//     since (tcpi_retransmits >= 1): about one RTO after the data was sent,
//     200 ms at least (Linux's minimum RTO); 0.4 s measured on loopback;
//   - or two keepalive (or zero-window) probes in a row went unanswered
//     (tcpi_probes >= 2): Idle + Interval after the last exchange; 2.0 s
//     measured with WithKeepAlive(Idle 1 s, Interval 1 s).
//
// A live peer acknowledges: a healthy conn under load and a peer that stopped
// reading (its zero window answers the probes; TCPInfo().SndWnd is 0) never
// read stalled, and a conn whose path comes back reads open again at the
// first acknowledgment. On a lossy path a single retransmission timeout
// shows as a stall until the retransmitted segment is acknowledged: the
// answer describes now, not a verdict. A stall is not terminal: it sets no
// flag and fires no event; Close decides CauseStalled if the conn is
// stalled when it closes. Once the kernel gives up (ETIMEDOUT: tcp_retries2,
// keepalive's Count, or TCP_USER_TIMEOUT), the conn stays stalled and a
// Read or Write fails with ETIMEDOUT, a terminal event with CauseStalled.
//
// To find vanished peers sooner: WithKeepAlive makes idle conns probe (pick
// Idle and Interval as the longest silence you accept, split in two), and
// WithUserTimeout bounds how long the kernel retransmits before it gives up
// (a few RTOs above your slowest healthy peer; Linux only).
// Group.CloseIf (and Listener.CloseIf, Dialer.CloseIf) reaps stalled conns
// held inside pools. Off Linux Probe does not judge stalls: darwin's
// TCPInfo has no retransmission streak or probe count.
//
// Nor does Probe judge stalls on an MPTCP conn (which a Go listener on
// Linux accepts from an MPTCP client by default, and a net.Dialer with
// SetMultipathTCP(true) dials): its TCP_INFO describes the first subflow
// only, which neither shows the connection's end nor tells whether another
// subflow carries the data. Probe and the look at Close judge its FIN and
// reset with poll, and TCPInfo returns an error matching
// errors.ErrUnsupported. The look at the Close of a conn never probed
// cannot tell MPTCP from TCP without a further system call: it reads
// TCP_INFO first, so there the first subflow's state (a stall, a reset)
// can decide the Cause; with the one subflow an MPTCP connection has
// unless a path manager adds more, that subflow's fate is the
// connection's.
//
// # Zero-copy paths
//
// ReadFrom and WriteTo keep the kernel's zero-copy paths through the
// wrapper. On Linux they run splice (TCP or Unix conn to conn or file) and
// sendfile (file to conn) themselves, also when either end is tracked, and
// count after every system call: the counters are current while a copy
// runs, and the end that failed is known. Elsewhere they hand the copy to
// the wrapped conn. A tracked conn over anything else (TLS) is read or
// written through its own methods. SyscallConn returns a raw conn that
// hides the descriptor's poll state from (*os.File).WriteTo, so
// io.Copy(trackedConn, file) is still counted. See WriteTo for
// io.CopyN into an untracked *net.TCPConn.
//
// # Performance
//
// Read and Write take no lock and do not allocate: a few atomic operations
// and one monotonic clock read when bytes move. Wrap costs one allocation
// of 208 bytes (with leak detection, which keeps the conn and its state
// apart and records the stack and a runtime.AddCleanup: five allocations on
// Go 1.26, six on Go 1.25). State takes no lock and
// does not allocate. Probe costs two system calls on a Linux TCP socket
// (getsockopt TCP_INFO and ioctl SIOCINQ; a third, poll, in state CLOSE),
// one elsewhere, and on Linux no allocation. The first Close costs one
// look more when nothing terminal was recorded: one getsockopt on a Linux
// TCP conn never probed, and a poll after it when TCP_INFO shows no end
// and the conn may be MPTCP (it did not come from a plain TCP listener or
// from a Dialer dialing with a zero net.Dialer, without MPTCP).
//
// # Limits
//
// I/O done on NetConn() directly, or with the raw conn of SyscallConn, is
// not tracked. Deadlines set on the inner conn directly are not known to the
// wrapper (it uses the ones set through it only to tell which end of a
// zero-copy copy timed out). LocalAddr and RemoteAddr in State are those the
// inner conn reported at wrap time.
package trackedconn
