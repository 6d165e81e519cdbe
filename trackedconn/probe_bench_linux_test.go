package trackedconn_test

import (
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/trackedconn"
)

// BenchmarkProbeOverhead is what Probe adds to the system call it makes, on
// an idle loopback TCP conn: impl=raw is the bare recv(MSG_PEEK|MSG_DONTWAIT)
// through RawConn.Control, impl=tracked is Probe. On VMs where a system
// call costs a microsecond or more, this ratio, not BenchmarkProbe's
// absolute time, is Probe's own cost.
func BenchmarkProbeOverhead(b *testing.B) {
	b.Run("impl=raw", func(b *testing.B) {
		c, _ := tcpPair(b)
		rc, err := c.SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
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
}
