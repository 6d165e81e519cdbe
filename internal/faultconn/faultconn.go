// Package faultconn provides Conn, a net.Conn for tests whose every call can
// be scripted: it fails with a chosen error, moves fewer bytes than asked,
// or blocks until a Gate is released. It complements net.Pipe, which cannot
// fail on demand, and keeps count of the bytes it reported so that tests can
// check the counters of a wrapper against it.
package faultconn

import (
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// Op names a method of Conn.
type Op uint8

// The methods of Conn that can be scripted.
const (
	Read Op = iota
	Write
	Close
	CloseRead
	CloseWrite
	SetDeadline
	SetReadDeadline
	SetWriteDeadline

	numOps = iota
)

var opNames = [numOps]string{
	"Read", "Write", "Close", "CloseRead", "CloseWrite",
	"SetDeadline", "SetReadDeadline", "SetWriteDeadline",
}

// String returns the method's name, such as "Read" or "CloseWrite".
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// All as Outcome.N reports every byte of the buffer.
const All = -1

// Outcome is what one call of a Conn method returns.
type Outcome struct {
	// N is how many bytes Read or Write reports, clamped to the buffer's
	// length; All reports the whole buffer. Other methods ignore it.
	N int
	// Err is the error the call returns, as is.
	Err error
	// Gate, if not nil, makes the call block until the gate is released.
	// The outcome is taken from the queue before the call blocks.
	Gate *Gate
}

// OK is the outcome of a call that succeeds and moves every byte.
func OK() Outcome { return Outcome{N: All} }

// Fail is the outcome of a call that moves no byte and returns err.
func Fail(err error) Outcome { return Outcome{Err: err} }

// Short is the outcome of a Read or Write that moves n bytes (at most the
// buffer's length) and returns err, which may be nil.
func Short(n int, err error) Outcome { return Outcome{N: n, Err: err} }

// Gated returns o, blocking until g is released.
func (o Outcome) Gated(g *Gate) Outcome {
	o.Gate = g
	return o
}

// Gate holds calls until it is released. A zero Gate is not usable: make
// one with NewGate. A test must release every gate it blocks a call on,
// or that call's goroutine never ends.
type Gate struct {
	entered  chan struct{}
	released chan struct{}
	enter    sync.Once
	release  sync.Once
}

// NewGate returns a gate that holds calls until Release.
func NewGate() *Gate {
	return &Gate{entered: make(chan struct{}), released: make(chan struct{})}
}

// Entered returns a channel that is closed once a call blocks on the gate.
func (g *Gate) Entered() <-chan struct{} { return g.entered }

// Release lets every call blocked on the gate, and every later one,
// through. It may be called more than once.
func (g *Gate) Release() { g.release.Do(func() { close(g.released) }) }

func (g *Gate) wait() {
	g.enter.Do(func() { close(g.entered) })
	<-g.released
}

// Addr is the address Conn reports on both ends: TCP, 192.0.2.1:9
// (TEST-NET-1, never routed).
var Addr net.Addr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9}

// Conn is a net.Conn with CloseRead and CloseWrite whose calls return
// scripted outcomes. Each call takes the next outcome queued for its method
// with Push; when none is queued it takes the method's default outcome:
// OK until the first Close call, and after it an error matching
// net.ErrClosed (as a *net.OpError), like a real conn. SetDefault changes
// the default.
//
// Read leaves the buffer's contents as they are. Conn does not implement
// io.ReaderFrom, io.WriterTo or syscall.Conn, so wrappers take their
// fallback paths.
//
// Conn is safe for concurrent use. A zero Conn is not usable: make one with
// New.
type Conn struct {
	mu       sync.Mutex
	queue    [numOps][]Outcome
	def      [numOps]*Outcome // nil: the built-in default
	closed   bool             // Close was called
	calls    [numOps]int
	reported [numOps]int64
}

var _ net.Conn = (*Conn)(nil)

// New returns a Conn with nothing queued.
func New() *Conn { return new(Conn) }

// Push queues outcomes for the next calls of op, in order, after those
// already queued.
func (c *Conn) Push(op Op, outs ...Outcome) {
	c.mu.Lock()
	c.queue[op] = append(c.queue[op], outs...)
	c.mu.Unlock()
}

// SetDefault makes o the outcome of the calls of op that find nothing
// queued, before and after Close.
func (c *Conn) SetDefault(op Op, o Outcome) {
	c.mu.Lock()
	c.def[op] = &o
	c.mu.Unlock()
}

// Pending returns how many outcomes are still queued for op.
func (c *Conn) Pending(op Op) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue[op])
}

// Calls returns how many times op was called (blocked calls included).
func (c *Conn) Calls(op Op) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

// Reported returns the sum of the byte counts that the calls of op
// returned (Read and Write; 0 for the other methods). Calls still blocked
// on a gate are not counted yet.
func (c *Conn) Reported(op Op) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reported[op]
}

// next takes the outcome of a call of op.
func (c *Conn) next(op Op) Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
	if op == Close {
		defer func() { c.closed = true }()
	}
	if q := c.queue[op]; len(q) > 0 {
		o := q[0]
		q[0] = Outcome{}
		c.queue[op] = q[1:]
		return o
	}
	if d := c.def[op]; d != nil {
		return *d
	}
	if c.closed {
		return Fail(&net.OpError{Op: opErrName[op], Net: Addr.Network(), Source: Addr, Addr: Addr, Err: net.ErrClosed})
	}
	return OK()
}

var opErrName = [numOps]string{"read", "write", "close", "close", "close", "set", "set", "set"}

// do runs a call of op on a buffer of size bytes.
func (c *Conn) do(op Op, size int) (int, error) {
	o := c.next(op)
	if o.Gate != nil {
		o.Gate.wait()
	}
	n := o.N
	if n < 0 || n > size {
		n = size
	}
	if n > 0 {
		c.mu.Lock()
		c.reported[op] += int64(n)
		c.mu.Unlock()
	}
	return n, o.Err
}

// Read returns the next outcome of Read, reporting at most len(b) bytes.
func (c *Conn) Read(b []byte) (int, error) { return c.do(Read, len(b)) }

// Write returns the next outcome of Write, reporting at most len(b) bytes.
func (c *Conn) Write(b []byte) (int, error) { return c.do(Write, len(b)) }

func (c *Conn) errOnly(op Op) error {
	_, err := c.do(op, 0)
	return err
}

// Close returns the next outcome of Close.
func (c *Conn) Close() error { return c.errOnly(Close) }

// CloseRead returns the next outcome of CloseRead.
func (c *Conn) CloseRead() error { return c.errOnly(CloseRead) }

// CloseWrite returns the next outcome of CloseWrite.
func (c *Conn) CloseWrite() error { return c.errOnly(CloseWrite) }

// SetDeadline returns the next outcome of SetDeadline; the deadline itself
// has no effect.
func (c *Conn) SetDeadline(time.Time) error { return c.errOnly(SetDeadline) }

// SetReadDeadline returns the next outcome of SetReadDeadline.
func (c *Conn) SetReadDeadline(time.Time) error { return c.errOnly(SetReadDeadline) }

// SetWriteDeadline returns the next outcome of SetWriteDeadline.
func (c *Conn) SetWriteDeadline(time.Time) error { return c.errOnly(SetWriteDeadline) }

// LocalAddr returns Addr.
func (c *Conn) LocalAddr() net.Addr { return Addr }

// RemoteAddr returns Addr.
func (c *Conn) RemoteAddr() net.Addr { return Addr }

// NoHalfClose returns c without its CloseRead and CloseWrite methods, as a
// conn that cannot half-close (net.Pipe, a TLS client's read side).
func NoHalfClose(c *Conn) net.Conn { return noHalfClose{c} }

type noHalfClose struct{ c *Conn }

func (n noHalfClose) Read(b []byte) (int, error)         { return n.c.Read(b) }
func (n noHalfClose) Write(b []byte) (int, error)        { return n.c.Write(b) }
func (n noHalfClose) Close() error                       { return n.c.Close() }
func (n noHalfClose) LocalAddr() net.Addr                { return n.c.LocalAddr() }
func (n noHalfClose) RemoteAddr() net.Addr               { return n.c.RemoteAddr() }
func (n noHalfClose) SetDeadline(t time.Time) error      { return n.c.SetDeadline(t) }
func (n noHalfClose) SetReadDeadline(t time.Time) error  { return n.c.SetReadDeadline(t) }
func (n noHalfClose) SetWriteDeadline(t time.Time) error { return n.c.SetWriteDeadline(t) }

// OpError returns err as a *net.OpError of a TCP conn at Addr, as the net
// package returns it from op ("read", "write", "close", ...).
func OpError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: Addr, Addr: Addr, Err: err}
}

// SyscallError returns errno as a TCP conn's op returns it: a *net.OpError
// around an *os.SyscallError, like
// &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}.
func SyscallError(op string, errno error) error {
	return OpError(op, os.NewSyscallError(op, errno))
}

// Reset returns the error of op on a TCP conn that the peer reset.
func Reset(op string) error { return SyscallError(op, ErrnoReset) }

// BrokenPipe returns the error of a write on a TCP conn whose sending side
// is shut (EPIPE).
func BrokenPipe() error { return SyscallError("write", ErrnoBrokenPipe) }

// Timeout returns the error of op on a conn whose deadline passed.
func Timeout(op string) error { return OpError(op, os.ErrDeadlineExceeded) }

// Closed returns the error of op on a conn closed on this side.
func Closed(op string) error { return OpError(op, net.ErrClosed) }
