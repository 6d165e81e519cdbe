package trackedconn

import (
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// kernelCopy copies up to limit bytes (to EOF if limit is negative) from
// src to dst inside the kernel: splice(2) through a pipe when src is a
// stream socket and dst a stream socket or a regular file, sendfile(2)
// when src is a regular file and dst a stream socket. It calls
// countCopied(to, from, n) after every system call that delivered n bytes
// to dst, so the counters are current whatever the rate, at the cost of a
// few atomic adds per system call (each moves up to a pipe or a socket
// buffer: tens of KiB or more).
//
// handled is false, with nothing read or written, when the kernel cannot
// copy between the two; the caller then copies some other way. Otherwise
// the system calls tell which end failed: rerr is an error reading src,
// werr one writing dst. eof reports that src ended before limit.
//
// Why its own loop: the standard library's splice and sendfile (what
// (*net.TCPConn).ReadFrom and WriteTo run) report only when they return,
// and splice only into TCP conns, or from TCP into Unix conns.
// Handing them limited chunks bounds the uncounted bytes but not the
// time: a slow source (1,000 bytes every 100 ms) takes minutes to fill a
// chunk of any size worth its call. Bounding the time would need a
// deadline on the conns, which belong to the caller: re-arming one races
// with the caller's own SetDeadline (an abort could be lost). This loop is
// the same system calls, driven through the conns' raw conns (which keep
// the caller's deadlines), so it sees each one.
func kernelCopy(dst, src any, to, from *core, limit int64) (n int64, eof, handled bool, rerr, werr error) {
	// Only the standard library's own conns and files: a conn of another
	// type may do more in its Read and Write (rate limits, framing, counts)
	// than its raw conn shows. Sources may also be files that some type
	// wraps (os hides (*os.File).WriteTo that way), as for the standard
	// library's sendfile, which takes any syscall.Conn.
	if !stdEnd(dst) {
		return 0, false, false, nil, nil
	}
	drc, srcRC := rawConnNoWrap(dst), rawConnNoWrap(src)
	if drc == nil || srcRC == nil {
		return 0, false, false, nil, nil
	}
	dk, sk := fdKindOf(drc, true), fdKindOf(srcRC, false)
	switch {
	case sk == kindStream && dk != kindNone && stdEnd(src):
		return spliceCopy(drc, srcRC, to, from, limit)
	case sk == kindFile && dk == kindStream:
		return sendfileCopy(drc, srcRC, to, from, limit)
	}
	return 0, false, false, nil, nil
}

// stdEnd reports whether x is a conn or file of the standard library.
func stdEnd(x any) bool {
	switch x.(type) {
	case *net.TCPConn, *net.UnixConn, *os.File:
		return true
	}
	return false
}

// rawConnNoWrap returns x's raw conn if x has one of its own (a socket or
// a file); unlike rawConnOf it never looks beneath x, since the bytes
// beneath a TLS conn are not x's bytes.
func rawConnNoWrap(x any) syscall.RawConn {
	sc, ok := x.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// fdKind is what a descriptor is to kernelCopy.
type fdKind uint8

const (
	kindNone   fdKind = iota // nothing the kernel copies to or from
	kindStream               // a stream socket (TCP, Unix)
	kindFile                 // a regular file (a destination only if not O_APPEND, which splice refuses)
)

func fdKindOf(rc syscall.RawConn, write bool) fdKind {
	k := kindNone
	err := rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if unix.Fstat(int(fd), &st) != nil {
			return
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFSOCK:
			if typ, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE); err == nil && typ == unix.SOCK_STREAM {
				k = kindStream
			}
		case unix.S_IFREG:
			if write {
				fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
				if err != nil || fl&unix.O_APPEND != 0 {
					return
				}
			}
			k = kindFile
		}
	})
	if err != nil {
		return kindNone
	}
	return k
}

// spliceCopy moves the bytes through a pipe: splice src -> pipe (waiting
// for src to be readable), then pipe -> dst (waiting for dst to be
// writable), as the standard library does.
func spliceCopy(dst, src syscall.RawConn, to, from *core, limit int64) (n int64, eof, handled bool, rerr, werr error) {
	p, err := getPipe()
	if err != nil {
		return 0, false, false, nil, nil
	}
	defer p.release()
	var (
		max  int
		serr error
	)
	// The two steps are bound once per copy, not once per system call.
	drain := func(fd uintptr) bool {
		for {
			m, e := unix.Splice(int(fd), nil, p.w, nil, max, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if e == unix.EINTR {
				continue
			}
			if e == nil {
				p.data = int(m)
			}
			serr = e
			return e != unix.EAGAIN
		}
	}
	pump := func(fd uintptr) bool {
		serr = nil // also a retry after EAGAIN
		for p.data > 0 {
			m, e := unix.Splice(p.r, nil, int(fd), nil, p.data, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if e == unix.EINTR {
				continue
			}
			if e != nil {
				serr = e
				return e != unix.EAGAIN
			}
			p.data -= int(m)
			n += m
			countCopied(to, from, m)
		}
		return true
	}
	for limit < 0 || n < limit {
		max = p.size
		if limit >= 0 && limit-n < int64(max) {
			max = int(limit - n)
		}
		serr = nil
		err := src.Read(drain)
		if err == nil && serr != nil {
			if serr == unix.EINVAL && !handled {
				return 0, false, false, nil, nil // nothing read: the kernel cannot splice src
			}
			err = os.NewSyscallError("splice", serr)
		}
		if err != nil {
			return n, false, true, err, nil
		}
		handled = true
		if p.data == 0 {
			return n, true, true, nil, nil
		}
		err = dst.Write(pump)
		if err == nil && serr != nil {
			err = os.NewSyscallError("splice", serr)
		}
		if err != nil {
			return n, false, true, nil, err
		}
	}
	return n, false, true, nil, nil
}

// sendfileCopy moves the bytes with sendfile(2) from the file's current
// offset, which it advances, as (*os.File).Read would.
func sendfileCopy(dst, src syscall.RawConn, to, from *core, limit int64) (n int64, eof, handled bool, rerr, werr error) {
	const maxSend = 1 << 30
	var serr error
	err := src.Read(func(sfd uintptr) bool {
		werr = dst.Write(func(dfd uintptr) bool {
			serr = nil // a retry after EAGAIN
			for limit < 0 || n < limit {
				max := maxSend
				if limit >= 0 && limit-n < int64(max) {
					max = int(limit - n)
				}
				m, e := unix.Sendfile(int(dfd), int(sfd), nil, max)
				if e == unix.EINTR {
					continue
				}
				if e != nil {
					serr = e
					return e != unix.EAGAIN
				}
				if m == 0 {
					eof = true
					return true
				}
				handled = true
				n += int64(m)
				countCopied(to, from, int64(m))
			}
			return true
		})
		return true
	})
	if serr == unix.EINVAL && !handled {
		return 0, false, false, nil, nil // nothing sent: the kernel cannot sendfile from src
	}
	if werr == nil && serr != nil {
		werr = os.NewSyscallError("sendfile", serr)
	}
	// A failed sendfile(2) is taken as the socket's: a regular file hardly
	// fails, and is never a tracked conn.
	return n, eof, true, err, werr
}

// splicePipe is a pipe for spliceCopy, kept in pipePool between copies.
type splicePipe struct {
	r, w    int
	size    int // capacity in bytes
	data    int // bytes in the pipe
	cleanup runtime.Cleanup
}

var pipePool sync.Pool

// pipeSize is the pipe capacity asked for: as the standard library's.
const pipeSize = 1 << 20

func getPipe() (*splicePipe, error) {
	if p, ok := pipePool.Get().(*splicePipe); ok {
		return p, nil
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, err
	}
	size, err := unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	if err != nil {
		if size, err = unix.FcntlInt(uintptr(fds[0]), unix.F_GETPIPE_SZ, 0); err != nil {
			size = 64 << 10
		}
	}
	p := &splicePipe{r: fds[0], w: fds[1], size: size}
	p.cleanup = runtime.AddCleanup(p, closePipe, fds)
	return p, nil
}

// release returns an empty pipe to the pool and closes one that still
// holds bytes (a failed copy).
func (p *splicePipe) release() {
	if p.data == 0 {
		pipePool.Put(p)
		return
	}
	p.cleanup.Stop()
	closePipe([2]int{p.r, p.w})
}

func closePipe(fds [2]int) {
	unix.Close(fds[0])
	unix.Close(fds[1])
}

// countCopied counts n bytes that a copy moved from the conn of from into
// the conn of to (either nil when untracked).
func countCopied(to, from *core, n int64) {
	if to != nil {
		to.countWrite(n)
	}
	if from != nil {
		from.countRead(n)
	}
}
