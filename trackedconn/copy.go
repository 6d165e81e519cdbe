package trackedconn

import (
	"io"
	"syscall"

	"github.com/connwatch/connwatch/internal/errclass"
)

// copyChunk is how many bytes a zero-copy ReadFrom hands the kernel at a
// time, so that the byte counters and LastReadAt/LastWriteAt move during a
// long transfer instead of only when it ends. Each chunk costs one more
// ReadFrom call into the kernel path: a few microseconds per 4 MiB.
const copyChunk = 4 << 20

// ReadFrom copies from r into the conn until r reports EOF or an error, and
// returns the number of bytes written. It hands the copy to the wrapped
// conn's ReadFrom, so the kernel's zero-copy paths survive wrapping:
// sendfile when r is a file, splice when r is a TCP or Unix conn or a
// tracked conn over one. Every byte is counted, on r too when r is a tracked
// conn; a nil error then also records r's PeerClosed. When r has a
// descriptor the copy goes in chunks of 4 MiB, so the counters move while
// it runs.
//
// On the zero-copy paths the kernel does not say which end failed. The
// error is recorded on r when r's socket is found reset or closed by a
// non-consuming peek (or r's read deadline set through the wrapper has
// passed), else on this conn; a broken pipe is always this conn's.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	s := c.s
	rf, ok := c.inner.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	src, from, lr := unwrapSource(r)
	remaining := int64(-1) // no limit
	if lr != nil {
		if lr.N <= 0 {
			return 0, nil // as io.Copy from an exhausted LimitedReader
		}
		remaining = lr.N
	}
	_, chunked := src.(syscall.Conn) // a file or socket: the kernel may copy it
	var (
		total int64
		err   error
		eof   bool
		part  *io.LimitedReader
	)
	for {
		want := remaining
		if chunked && (want < 0 || want > copyChunk) {
			want = copyChunk
		}
		var n int64
		if want < 0 {
			n, err = rf.ReadFrom(src)
			eof = err == nil
		} else {
			if part == nil {
				part = &io.LimitedReader{R: src}
			}
			part.N = want
			n, err = rf.ReadFrom(part)
			eof = err == nil && part.N > 0
		}
		total += n
		if remaining > 0 {
			remaining -= n
		}
		if n > 0 {
			s.countWrite(n)
			if from != nil {
				from.countRead(n)
			}
		}
		if err != nil || eof || remaining == 0 || want < 0 {
			break
		}
	}
	if lr != nil {
		lr.N = remaining
	}
	switch {
	case err != nil:
		copyFailed(err, s, from, src)
	case from != nil && eof:
		from.peerClosed()
	}
	if err == nil {
		s.succeeded()
	}
	return total, err
}

// unwrapSource looks through an io.LimitedReader (returned as lr, to
// update) and replaces a tracked conn by its inner conn, which the kernel's
// splice recognizes, returning the tracked conn's core as from.
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
// PeerClosed). When w is a tracked conn over a conn with ReadFrom (TCP), the
// copy is handed to w's ReadFrom, so TCP-to-TCP copies keep splice;
// otherwise it is handed to the wrapped conn's WriteTo, given w's inner conn
// when w is tracked (TCP to Unix sockets and files keep splice). Every byte
// is counted, on w too when it is tracked. Errors that an untracked w
// returns are not recorded on this conn.
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	dst, _ := w.(*Conn)
	if dst != nil {
		if _, ok := dst.inner.(io.ReaderFrom); ok {
			return dst.ReadFrom(c)
		}
	}
	wt, ok := c.inner.(io.WriterTo)
	if !ok {
		return io.Copy(w, readerOnly{c})
	}
	s := c.s
	var to *core
	if dst != nil {
		w, to = dst.inner, dst.s
	}
	n, err := wt.WriteTo(w)
	if n > 0 {
		s.countRead(n)
		if to != nil {
			to.countWrite(n)
		}
	}
	if err != nil {
		copyFailed(err, to, s, c.inner)
	} else {
		s.peerClosed()
		s.succeeded()
	}
	return n, err
}

// copyFailed records err, returned by a copy from src to dst that the
// kernel may have done without telling which end failed, on the end it came
// from. dst or src is nil when that end is not tracked; srcRaw is the
// source as given to the inner conn, peeked at to see whether it died.
func copyFailed(err error, dst, src *core, srcRaw any) {
	switch errclass.Classify(err) {
	case errclass.None, errclass.Closed:
	case errclass.BrokenPipe:
		if dst != nil {
			dst.fail(err, false) // only writing breaks a pipe
		}
	case errclass.Deadline:
		// Only a deadline set through the wrapper tells which end it was.
		if dst != nil && deadlinePassed(dst.wdeadline.Load()) {
			dst.deadlineHit(false)
		} else if src != nil && deadlinePassed(src.rdeadline.Load()) {
			src.deadlineHit(true)
		}
	default:
		switch peek(srcRaw) {
		case LivenessReset, LivenessPeerClosed:
			if src != nil {
				src.fail(err, true)
			}
		default:
			if dst != nil {
				dst.fail(err, false)
			}
		}
	}
}

// writerOnly and readerOnly hide ReadFrom and WriteTo, so that io.Copy
// falls back to plain Read and Write calls instead of recursing.
type writerOnly struct{ io.Writer }

type readerOnly struct{ io.Reader }
