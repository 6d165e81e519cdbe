package listener_test

import (
	"context"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
)

// BenchmarkChurnLookFloor measures the floor that the look at Close sets
// for BenchmarkChurnInterleaved's target: the churn of raw conns that do
// nothing but the look's one getsockopt(TCP_INFO) before each Close
// (look-only), against raw and tracked conns, in interleaved rounds. An op
// is one conn of each. look-only/raw is what any tracker that refines Cause
// at Close as trackedconn does pays on this machine before it tracks
// anything; tracked/raw minus that is the rest of tracking.
func BenchmarkChurnLookFloor(b *testing.B) {
	var nd net.Dialer
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		return ln
	}
	raw := startChurner(listen(), nd.DialContext)
	defer raw.stop()
	lookOnly := startChurner(lookOnlyListener{listen()}, func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := nd.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return lookOnlyConn{c.(*net.TCPConn)}, nil
	})
	defer lookOnly.stop()
	trackedLn, err := listener.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	tracked := startChurner(trackedLn, dialer.New().DialContext)
	defer tracked.stop()

	rs := interleaveChurn(b, raw, lookOnly, tracked)
	b.ReportMetric(rs.Wall(1), "look-only/raw")
	b.ReportMetric(rs.Wall(2), "tracked/raw")
}

// lookOnlyListener hands out its TCP conns as lookOnlyConns.
type lookOnlyListener struct{ net.Listener }

func (l lookOnlyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return lookOnlyConn{c.(*net.TCPConn)}, nil
}

// lookOnlyConn reads TCP_INFO once before it closes, as the look at a
// tracked conn's first Close does, and tracks nothing.
type lookOnlyConn struct{ *net.TCPConn }

func (c lookOnlyConn) Close() error {
	if rc, err := c.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			// The first 4 bytes, without allocating: the kernel builds the
			// whole of TCP_INFO whatever the length asked for.
			_, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		})
	}
	return c.TCPConn.Close()
}
