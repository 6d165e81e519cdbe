package trackedconn

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"syscall"
	"time"
)

// Conn is a tracked net.Conn. It forwards every method to the conn it wraps
// and records the conn's lifecycle in atomic fields on the way. Errors of
// the wrapped conn are returned unchanged.
//
// Conn is safe for concurrent use, as net.Conn requires.
type Conn struct {
	inner net.Conn
	s     *core
}

var (
	_ net.Conn                        = (*Conn)(nil)
	_ io.ReaderFrom                   = (*Conn)(nil)
	_ io.WriterTo                     = (*Conn)(nil)
	_ syscall.Conn                    = (*Conn)(nil)
	_ interface{ CloseWrite() error } = (*Conn)(nil)
	_ interface{ CloseRead() error }  = (*Conn)(nil)
	_ interface{ NetConn() net.Conn } = (*Conn)(nil)
)

// connCore is a Conn and its core in one allocation, for conns without
// leak detection.
type connCore struct {
	conn Conn
	core core
}

// coreLeak is a core and its leakWatch in one allocation, for conns with
// leak detection.
type coreLeak struct {
	core  core
	watch leakWatch
}

// Wrap returns a tracked conn that forwards to c, and fires EventOpen.
// Wrapping a *Conn again returns it unchanged (opts are then ignored).
// Wrap(nil) panics.
func Wrap(c net.Conn, opts ...Option) *Conn {
	if c == nil {
		panic("trackedconn: Wrap(nil)")
	}
	if t, ok := c.(*Conn); ok {
		return t
	}
	cfg := newConfig(opts)
	var (
		t *Conn
		s *core
	)
	if cfg.leak {
		// Two objects: the leak detector watches the *Conn, which must
		// become unreachable while the group still holds the core.
		b := new(coreLeak)
		s = &b.core
		s.leak = &b.watch
		t = &Conn{s: s}
	} else {
		b := new(connCore) // one allocation instead of two
		t, s = &b.conn, &b.core
		t.s = s
	}
	t.inner = c
	s.opened = mono()
	s.cfg = cfg
	s.group = cfg.group
	s.inner = c
	s.laddr = c.LocalAddr()
	s.raddr = c.RemoteAddr()
	if cfg.keepAlive != nil || cfg.userTimeout != 0 {
		s.applySockOpts(c)
	}
	if cfg.leak {
		watchLeak(t, s)
	}
	// EventOpen fires before the conn joins its group, so that nothing
	// reached through the group (CloseAll, CloseIf) can close it first.
	if g := s.group; g != nil {
		g.opened.Inc()
	}
	s.emit(EventOpen)
	if g := s.group; g != nil {
		g.add(s)
	}
	return t
}

// Read reads from the wrapped conn. It counts the bytes and records io.EOF
// (PeerClosed), resets and deadlines.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.inner.Read(b)
	s := c.s
	if n > 0 {
		s.countRead(int64(n))
	}
	if err != nil {
		s.fail(err, true)
	} else {
		s.succeeded()
	}
	return n, err
}

// Write writes to the wrapped conn. It counts the bytes and records resets,
// broken pipes and deadlines.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.inner.Write(b)
	s := c.s
	if n > 0 {
		s.countWrite(int64(n))
	}
	if err != nil {
		s.fail(err, false)
	} else {
		s.succeeded()
	}
	return n, err
}

func (s *core) countWrite(n int64) {
	s.nwritten.Add(n)
	s.lastWrite.Store(mono())
	if g := s.group; g != nil {
		g.nwritten.Add(uint64(n))
	}
}

func (s *core) countRead(n int64) {
	s.nread.Add(n)
	s.lastRead.Store(mono())
	if g := s.group; g != nil {
		g.nread.Add(uint64(n))
	}
}

// Close closes the wrapped conn. The first call closes it, decides the Cause
// and returns the inner Close's error; EventClose fires after the inner Close
// returned. Later calls do nothing but return an error matching
// net.ErrClosed.
func (c *Conn) Close() error {
	first, err := c.s.close()
	runtime.KeepAlive(c) // the leak detector must not reclaim c during Close
	if !first {
		return c.s.errClosed("close")
	}
	return err
}

// close runs the first Close: it decides the Cause, closes the inner conn
// and fires EventClose. If Close had already begun it does nothing and
// first is false.
func (s *core) close() (first bool, err error) {
	if !s.beginClose(CauseNone, s.lookBeforeClose()) {
		return false, nil
	}
	if s.cfg.leak {
		s.leak.cleanup.Stop()
	}
	// After the inner Close returns, and also if it panics: the group and
	// EventClose are finished, then the panic goes on.
	defer s.finish()
	return true, s.inner.Close()
}

func (s *core) errClosed(op string) error {
	network := ""
	if s.laddr != nil {
		network = s.laddr.Network()
	}
	return &net.OpError{Op: op, Net: network, Source: s.laddr, Addr: s.raddr, Err: net.ErrClosed}
}

// CloseRead shuts down the reading side of the wrapped conn, if it has a
// CloseRead method (TCP and Unix conns do). Otherwise it returns an error
// matching errors.ErrUnsupported.
func (c *Conn) CloseRead() error {
	cr, ok := c.inner.(interface{ CloseRead() error })
	if !ok {
		return unsupported("CloseRead", c.inner)
	}
	err := cr.CloseRead()
	if err == nil {
		// A half-close is not a Read or Write: it leaves TimedOut as it is.
		c.s.transition(flagReadShut, 0, flagReadShut, CauseNone, EventReadShut)
	}
	return err
}

// CloseWrite shuts down the writing side of the wrapped conn, if it has a
// CloseWrite method (TCP, Unix and TLS conns do). Otherwise it returns an
// error matching errors.ErrUnsupported.
func (c *Conn) CloseWrite() error {
	cw, ok := c.inner.(interface{ CloseWrite() error })
	if !ok {
		return unsupported("CloseWrite", c.inner)
	}
	err := cw.CloseWrite()
	if err == nil {
		// A half-close is not a Read or Write: it leaves TimedOut as it is.
		c.s.transition(flagWriteShut, 0, flagWriteShut, CauseNone, EventWriteShut)
	}
	return err
}

func unsupported(method string, inner net.Conn) error {
	return fmt.Errorf("trackedconn: %T has no %s method: %w", inner, method, errors.ErrUnsupported)
}

// LocalAddr returns the wrapped conn's local address.
func (c *Conn) LocalAddr() net.Addr { return c.inner.LocalAddr() }

// RemoteAddr returns the wrapped conn's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.inner.RemoteAddr() }

// SetDeadline sets the wrapped conn's read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	err := c.inner.SetDeadline(t)
	if err == nil {
		d := deadlineValue(t)
		c.s.rdeadline.Store(d)
		c.s.wdeadline.Store(d)
	}
	return err
}

// SetReadDeadline sets the wrapped conn's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	err := c.inner.SetReadDeadline(t)
	if err == nil {
		c.s.rdeadline.Store(deadlineValue(t))
	}
	return err
}

// SetWriteDeadline sets the wrapped conn's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	err := c.inner.SetWriteDeadline(t)
	if err == nil {
		c.s.wdeadline.Store(deadlineValue(t))
	}
	return err
}

// abortDeadline stands for a deadline that had already passed when it was
// set: the idiom to interrupt a blocked Read or Write (net/http's server does
// it to stop its background read), not a timeout.
const abortDeadline = -1

// deadlineValue is what core keeps of a deadline: 0 for none,
// abortDeadline, or the deadline in Unix nanoseconds.
func deadlineValue(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case !t.After(time.Now()):
		return abortDeadline
	}
	return t.UnixNano()
}

// deadlinePassed reports whether a deadline set through the wrapper has
// passed.
func deadlinePassed(d int64) bool {
	return d == abortDeadline || d != 0 && time.Now().UnixNano() >= d
}

// NetConn returns the wrapped conn. I/O done on it directly is not tracked.
func (c *Conn) NetConn() net.Conn { return c.inner }

// ID returns the conn's process-unique ID, never 0. A conn takes its ID
// the first time one is asked of it (by ID, State, a hook or a group's
// listing), so that a conn nobody looks at costs no shared counter: IDs
// are unique, but not always in the order the conns were wrapped.
func (c *Conn) ID() uint64 { return c.s.getID() }

// State returns a snapshot of the conn's state. It takes no lock.
func (c *Conn) State() State { return c.s.state() }

// IsClosed reports whether no more I/O is possible on the conn: Close was
// called, or the conn was reset, or both directions are shut (a read
// reached the peer's FIN and CloseWrite was called, or CloseRead and
// CloseWrite were both called). A FIN that Probe found behind unread data
// does not count until the data is read. A conn whose peer has gone away
// without a FIN or RST reaching us looks open: see Probe.
func (c *Conn) IsClosed() bool { return isClosed(c.s.flags.Load()) }

// SyscallConn returns the wrapped conn's raw conn, for socket options and
// for Probe-like checks, or an error matching errors.ErrUnsupported if the
// wrapped conn has none (TLS conns, pipes). The raw conn deliberately hides
// the descriptor from os.File's zero-copy paths, so that io.Copy into a
// tracked conn goes through ReadFrom and every byte is counted; bytes that
// the caller moves itself with the raw conn's Read and Write are not.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.inner.(syscall.Conn)
	if !ok {
		return nil, unsupported("SyscallConn", c.inner)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return rawConn{rc}, nil
}

// rawConn hides the concrete type of the inner raw conn (and with it the
// descriptor's poll.FD) from (*os.File).WriteTo, which would otherwise
// sendfile into the socket behind the wrapper's back.
type rawConn struct{ rc syscall.RawConn }

func (r rawConn) Control(f func(fd uintptr)) error          { return r.rc.Control(f) }
func (r rawConn) Read(f func(fd uintptr) (done bool)) error { return r.rc.Read(f) }
func (r rawConn) Write(f func(fd uintptr) (done bool)) error {
	return r.rc.Write(f)
}

func runHook(h Hook, e Event, st State) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("trackedconn: hook panicked", "event", e.String(), "conn", st.ID, "panic", r)
		}
	}()
	h.ConnEvent(e, st)
}
