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
// IsClosed is true once no more I/O is possible: Closed, or Reset, or
// PeerClosed and WriteShut, or ReadShut and WriteShut.
//
// Cause is decided at the first Close from what was seen before it: the
// first terminal event (CausePeer for io.EOF, CauseReset, CauseError for any
// other error that is not a deadline), else CauseTimeout if the latest
// failed operation hit a deadline, else CauseLocal. CauseLeak when the leak
// detector closed the conn. Cause is CauseNone while the conn is open, even
// if it was reset: look at the flags for that.
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
//   - Probe asks the socket without reading and without waiting: one
//     recv(MSG_PEEK|MSG_DONTWAIT) tells open, readable, peer-closed or
//     reset, and records a FIN or reset it finds (with its event). It works
//     while another goroutine is blocked in Read and whatever the deadlines,
//     and looks through a *tls.Conn at the TCP socket beneath. On Linux it
//     also sees a FIN queued behind unread data (CLOSE_WAIT): PeerClosed is
//     set while Probe still says readable, until the data is read. Where
//     there is no socket to peek at (Windows, net.Pipe, custom conns, UDP)
//     it says LivenessUnknown, never open.
//   - WithLeakDetection reclaims a conn dropped without Close (EventLeak,
//     then EventClose with CauseLeak, the socket closed), and State.Origin
//     says where it was opened. Group.Conns, OlderThan and IdleFor list the
//     live conns with their ages, to find those still referenced but
//     forgotten.
//
// Some things cannot be known, by this package or any other:
//
//   - A peer that vanished without a FIN or RST reaching us (power cut,
//     pulled cable, a NAT that forgot the flow) looks open: nothing arrived
//     to say otherwise. Only TCP keepalive, the retransmission of
//     unacknowledged data, or an application heartbeat finds out, minutes
//     later; the error (ETIMEDOUT) then reaches Read or Write.
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
//   - Linux reports a reset to one receive only: once Probe or a Read has
//     seen it, reads return io.EOF. State.Reset and Cause keep the reset.
//
// # Zero-copy paths
//
// ReadFrom and WriteTo hand the copy to the wrapped conn, so sendfile (file
// to conn) and splice (conn to conn, also when both are tracked) survive
// wrapping, and the bytes are counted on both tracked ends. SyscallConn
// returns a raw conn that hides the descriptor's poll state from
// (*os.File).WriteTo, so io.Copy(trackedConn, file) is still counted. On the
// zero-copy paths the kernel does not say which end failed: see ReadFrom.
//
// # Performance
//
// Read and Write take no lock and do not allocate: a few atomic operations
// and one monotonic clock read when bytes move. Wrap costs two allocations
// and 232 bytes (with leak detection, for the stack and runtime.AddCleanup:
// five allocations on Go 1.26, six on Go 1.25). State takes no lock and does not allocate. Probe
// costs one system call and, on Linux, no allocation.
//
// # Limits
//
// I/O done on NetConn() directly, or with the raw conn of SyscallConn, is
// not tracked. Deadlines set on the inner conn directly are not known to the
// wrapper (it uses the ones set through it only to tell which end of a
// zero-copy copy timed out). LocalAddr and RemoteAddr in State are those the
// inner conn reported at wrap time.
package trackedconn
