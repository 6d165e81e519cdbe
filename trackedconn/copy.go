package trackedconn

import (
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"

	"github.com/connwatch/connwatch/internal/errclass"
)

// copyChunk is how many bytes a ReadFrom hands the wrapped conn's ReadFrom
// at a time when the copy is left to the standard library (sendfile on
// systems other than Linux), so that the counters move during a long
// transfer. Each chunk costs one more ReadFrom call: a few microseconds
// per 4 MiB. On Linux the kernel copies go through kernelCopy, which
// counts after every system call instead.
const copyChunk = 4 << 20

// ReadFrom copies from r into the conn until r reports EOF or an error, and
// returns the number of bytes written. Where the kernel can copy, it does,
// so zero-copy survives wrapping: on Linux, splice when r is a TCP or Unix
// stream conn or a tracked conn over one, sendfile when r is a regular
// file; elsewhere the wrapped conn's ReadFrom (sendfile from files). Every
// byte is counted, on r too when r is a tracked conn, and the counters and
// LastWriteAt/LastReadAt are current while the copy runs (on Linux after
// every system call, elsewhere every 4 MiB). A nil error also records r's
// PeerClosed. A successful copy clears TimedOut on both tracked ends.
//
// On the kernel path each system call tells which end failed, and the
// error is recorded on that end. A tracked r that the kernel cannot copy
// from (a TLS conn, a pipe) is read through its Read method, so its
// errors are recorded on it, and this conn's through Write.
//
// The conn and a tracked r stay reachable while the copy runs: the leak
// detector does not reclaim them.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.readFrom(r)
	runtime.KeepAlive(c) // past their last use, only these keep the
	runtime.KeepAlive(r) // tracked ends from the leak detector
	return n, err
}

func (c *Conn) readFrom(r io.Reader) (int64, error) {
	s := c.s
	src, from, lr := unwrapSource(r)
	limit := int64(-1) // no limit
	if lr != nil {
		if lr.N <= 0 {
			return 0, nil // as io.Copy from an exhausted LimitedReader
		}
		limit = lr.N
	}
	if n, handled, err := copyKernel(c.inner, src, s, from, limit, "readfrom", s); handled {
		if lr != nil {
			lr.N -= n
		}
		return n, err
	}
	rf, ok := c.inner.(io.ReaderFrom)
	switch {
	case from != nil:
		// No kernel path from a tracked conn: read through it.
		return io.Copy(writerOnly{c}, readerOnly{r})
	case !ok || !isSyscallConn(src):
		// No ReadFrom, or a plain reader: the wrapped conn's ReadFrom
		// would run the same loop, but this one tells its Read errors
		// from c's Write errors.
		return io.Copy(writerOnly{c}, r)
	}
	var (
		total int64
		err   error
		eof   bool
		part  = &io.LimitedReader{R: src}
	)
	for {
		want := limit
		if want < 0 || want > copyChunk {
			want = copyChunk
		}
		part.N = want
		var n int64
		n, err = rf.ReadFrom(part)
		eof = err == nil && part.N > 0
		total += n
		if limit > 0 {
			limit -= n
		}
		if n > 0 {
			s.countWrite(n)
		}
		if err != nil || eof || limit == 0 {
			break
		}
	}
	if lr != nil {
		lr.N = limit
	}
	if err == nil || total > 0 {
		s.succeeded()
	}
	if err != nil {
		copyFailed(err, s, c.inner, src)
	}
	return total, err
}

func isSyscallConn(x any) bool {
	_, ok := x.(syscall.Conn)
	return ok
}

// unwrapSource looks through an io.LimitedReader (returned as lr, to
// update) and replaces a tracked conn by its inner conn, returning the
// tracked conn's core as from.
func unwrapSource(r io.Reader) (src io.Reader, from *core, lr *io.LimitedReader) {
	src = r
	if v, ok := r.(*io.LimitedReader); ok {
		lr, src = v, v.R
	}
	if t, ok := src.(*Conn); ok {
		src, from = t.inner, t.s
	}
	return src, from, lr
}

// WriteTo copies from the conn into w until EOF or an error, and returns
// the number of bytes read. A nil error means the peer sent EOF (recorded as
// PeerClosed). On Linux the kernel copies when the wrapped conn is a TCP or
// Unix stream conn and w is one too (or a tracked conn over one) or a
// regular file: splice, counted after every system call, so the counters
// and LastReadAt/LastWriteAt are current while it runs. Otherwise the conn
// is read through Read, and errors that an untracked w returns are not
// recorded on this conn. Every byte is counted, on w too when it is
// tracked; a successful copy clears TimedOut on both tracked ends. The conn
// and a tracked w stay reachable while the copy runs.
//
// io.CopyN(w, c) and io.Copy(w, io.LimitReader(c, n)) into an untracked
// *net.TCPConn w do not splice: they call w's ReadFrom with an
// io.LimitedReader over c, and (*net.TCPConn).ReadFrom splices only from a
// *net.TCPConn or *net.UnixConn, which it tells by concrete type, so the
// wrapper is never asked (it tries sendfile from c's raw conn, gets
// EINVAL, and reads through c). Wrap w too to keep splice: io.CopyN then
// calls the tracked w's ReadFrom, which splices up to the limit.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	n, err := c.writeTo(w)
	runtime.KeepAlive(c)
	runtime.KeepAlive(w)
	return n, err
}

func (c *Conn) writeTo(w io.Writer) (int64, error) {
	dst, to := any(w), (*core)(nil)
	if t, ok := w.(*Conn); ok {
		dst, to = t.inner, t.s
	}
	if n, handled, err := copyKernel(dst, c.inner, to, c.s, -1, "writeto", c.s); handled {
		return n, err
	}
	return io.Copy(w, readerOnly{c})
}

// copyKernel runs kernelCopy from src to dst and records the outcome on
// the tracked ends: to is dst's core, from is src's (nil when untracked).
// handled is false when the kernel could not copy; nothing happened then.
// Errors are returned as the standard library's ReadFrom and WriteTo
// return theirs: in a *net.OpError naming op and the conn of self.
func copyKernel(dst, src any, to, from *core, limit int64, op string, self *core) (n int64, handled bool, err error) {
	n, eof, handled, rerr, werr := kernelCopy(dst, src, to, from, limit)
	if !handled {
		return 0, false, nil
	}
	if n > 0 || rerr == nil && werr == nil {
		// The latest operations on both ends moved bytes.
		if to != nil {
			to.succeeded()
		}
		if from != nil {
			from.succeeded()
		}
	}
	switch {
	case rerr != nil:
		if from != nil {
			from.fail(rerr, true)
		}
		return n, true, self.opError(op, rerr)
	case werr != nil:
		if to != nil {
			to.fail(werr, false)
		}
		return n, true, self.opError(op, werr)
	case eof && from != nil:
		from.peerClosed()
	}
	return n, true, nil
}

// opError wraps err in a *net.OpError for s's conn, unless it is one.
func (s *core) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	network := ""
	if s.laddr != nil {
		network = s.laddr.Network()
	}
	return &net.OpError{Op: op, Net: network, Source: s.laddr, Addr: s.raddr, Err: err}
}

// copyFailed records err, returned by the wrapped conn's ReadFrom from an
// untracked src into dst, on dst if it came from there. That ReadFrom does
// not say which end failed, so both sockets are looked at, without
// consuming anything: a dst found reset failed; a src found reset or
// closed is taken to have failed (nothing is recorded); otherwise dst
// failed. A broken pipe is always dst's.
func copyFailed(err error, dst *core, dstRaw, srcRaw any) {
	switch errclass.Classify(err) {
	case errclass.None, errclass.Closed:
	case errclass.BrokenPipe:
		dst.fail(err, false) // only writing breaks a pipe
	case errclass.Deadline:
		// Only a deadline set through the wrapper tells which end it was.
		if deadlinePassed(dst.wdeadline.Load()) {
			dst.deadlineHit(false)
		}
	default:
		if peek(dstRaw) != LivenessReset {
			switch peek(srcRaw) {
			case LivenessReset, LivenessPeerClosed:
				return
			}
		}
		dst.fail(err, false)
	}
}

// writerOnly and readerOnly hide ReadFrom and WriteTo, so that io.Copy
// falls back to plain Read and Write calls instead of recursing.
type writerOnly struct{ io.Writer }

type readerOnly struct{ io.Reader }
