package trackedconn_test

import (
	"net"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/trackedconn"
)

// benchRawConn returns the raw conn of c.
func benchRawConn(b *testing.B, c *net.TCPConn) syscall.RawConn {
	rc, err := c.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	return rc
}

// BenchmarkProbeOverhead is what Probe adds to the system calls it makes,
// on an idle loopback TCP conn. impl=raw makes the same calls by hand
// through RawConn.Control, into a buffer reused across calls:
// getsockopt(TCP_INFO) and ioctl(SIOCINQ). impl=tracked is Probe (the same
// two calls, the conversion to TCPInfo, the stall rule, the lock, the state
// check). impl=peek is the single recv(MSG_PEEK|MSG_DONTWAIT) Probe made
// before it learned the stall check, for scale. On VMs where a system call
// costs a microsecond or more, the ratio, not the absolute time, is Probe's
// own cost.
func BenchmarkProbeOverhead(b *testing.B) {
	b.Run("impl=raw", func(b *testing.B) {
		c, _ := tcpPair(b)
		rc := benchRawConn(b, c)
		var (
			ti     unix.TCPInfo
			n      int
			errno1 syscall.Errno
			errno2 syscall.Errno
		)
		look := func(fd uintptr) {
			size := uint32(unsafe.Sizeof(ti))
			_, _, errno1 = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO,
				uintptr(unsafe.Pointer(&ti)), uintptr(unsafe.Pointer(&size)), 0)
			_, _, errno2 = unix.Syscall(unix.SYS_IOCTL, fd, unix.SIOCINQ, uintptr(unsafe.Pointer(&n)))
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := rc.Control(look); err != nil || errno1 != 0 || errno2 != 0 || ti.State != 1 || n != 0 {
				b.Fatalf("look: %v, %v, %v; state %d, %d bytes queued", err, errno1, errno2, ti.State, n)
			}
		}
	})
	b.Run("impl=tracked", func(b *testing.B) {
		c, _ := tcpPair(b)
		tc := trackedconn.Wrap(c)
		b.ReportAllocs()
		for b.Loop() {
			if l := tc.Probe(); l != trackedconn.LivenessOpen {
				b.Fatalf("Probe() = %v, want open", l)
			}
		}
	})
	b.Run("impl=peek", func(b *testing.B) {
		c, _ := tcpPair(b)
		rc := benchRawConn(b, c)
		var (
			buf   [1]byte
			errno syscall.Errno
		)
		peek := func(fd uintptr) {
			_, _, errno = unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), 1,
				unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := rc.Control(peek); err != nil || errno != unix.EAGAIN {
				b.Fatalf("peek: %v, %v; want EAGAIN", err, errno)
			}
		}
	})
}

// BenchmarkTCPInfo reads the kernel's view of an idle loopback TCP conn.
// impl=raw is what a user writes with x/sys: unix.GetsockoptTCPInfo inside
// RawConn.Control (it allocates its result); impl=tracked is Conn.TCPInfo.
// DESIGN.md: TCPInfo() <= 3 us.
func BenchmarkTCPInfo(b *testing.B) {
	b.Run("impl=raw", func(b *testing.B) {
		c, _ := tcpPair(b)
		rc := benchRawConn(b, c)
		var (
			ti  *unix.TCPInfo
			err error
		)
		get := func(fd uintptr) { ti, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }
		b.ReportAllocs()
		for b.Loop() {
			if cerr := rc.Control(get); cerr != nil || err != nil || ti.State != 1 {
				b.Fatalf("GetsockoptTCPInfo: %v, %v", cerr, err)
			}
		}
	})
	b.Run("impl=tracked", func(b *testing.B) {
		c, _ := tcpPair(b)
		tc := trackedconn.Wrap(c)
		b.ReportAllocs()
		for b.Loop() {
			if ti, err := tc.TCPInfo(); err != nil || ti.State != "established" {
				b.Fatalf("TCPInfo() = %+v, %v", ti, err)
			}
		}
	})
}

// BenchmarkProbeInFlight is Probe on a conn whose peer is alive but not
// reading, with data queued and in flight: the stall rule runs on live
// unacknowledged segments (Unacked > 0), the case a quiet conn skips.
func BenchmarkProbeInFlight(b *testing.B) {
	c, _ := tcpPair(b)
	tc := trackedconn.Wrap(c)
	if err := c.SetWriteBuffer(1 << 20); err != nil {
		b.Fatal(err)
	}
	// Fill the peer's receive buffer and ours without blocking: the peer
	// never reads.
	rc := benchRawConn(b, c)
	chunk := make([]byte, 64<<10)
	for i := 0; i < 64; i++ {
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			_, werr = unix.Write(int(fd), chunk)
			return true
		}); err != nil || werr != nil {
			break
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if l := tc.Probe(); l != trackedconn.LivenessOpen {
			b.Fatalf("Probe() = %v, want open", l)
		}
	}
}

// BenchmarkClose is what tracking adds to closing a live TCP conn:
// Wrap, the first Close's look at the socket (on Linux one
// getsockopt(TCP_INFO), to refine Cause) and the bookkeeping. Each op makes
// a new *net.TCPConn on a dup of one established loopback socket
// (net.FileConn: dup, getsockname, getpeername, epoll registration) and
// closes it; the connection itself stays up, so the look sees an
// established socket, as the first Close of a healthy conn does.
func BenchmarkClose(b *testing.B) {
	c, _ := tcpPair(b)
	f, err := c.File()
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fresh := func(b *testing.B) net.Conn {
		nc, err := net.FileConn(f)
		if err != nil {
			b.Fatal(err)
		}
		return nc
	}
	b.Run("impl=raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := fresh(b).Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=tracked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tc := trackedconn.Wrap(fresh(b))
			if err := tc.Close(); err != nil {
				b.Fatal(err)
			}
			if cause := tc.State().Cause; cause != trackedconn.CauseLocal {
				b.Fatalf("Cause = %v, want local", cause)
			}
		}
	})
}

// BenchmarkFirstProbe is what a conn's first Probe costs on top of later
// ones: it finds the socket (the raw conn, SO_TYPE, SO_PROTOCOL) and builds
// the prober the conn keeps. op=wrap is Wrap alone, op=wrap+probe Wrap and
// a first Probe, op=probe a later Probe.
func BenchmarkFirstProbe(b *testing.B) {
	c, _ := tcpPair(b)
	b.Run("op=wrap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			trackedconn.Wrap(c)
		}
	})
	b.Run("op=wrap+probe", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if l := trackedconn.Wrap(c).Probe(); l != trackedconn.LivenessOpen {
				b.Fatalf("Probe() = %v, want open", l)
			}
		}
	})
	b.Run("op=probe", func(b *testing.B) {
		tc := trackedconn.Wrap(c)
		b.ReportAllocs()
		for b.Loop() {
			if l := tc.Probe(); l != trackedconn.LivenessOpen {
				b.Fatalf("Probe() = %v, want open", l)
			}
		}
	})
}
