package mptcptest

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Listen returns an MPTCP listener on a free loopback port, closed when
// the test ends. Where the kernel has no MPTCP it is a TCP listener.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	var lc net.ListenConfig
	lc.SetMultipathTCP(true)
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err, "Listen")
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Dialer returns a dialer that dials MPTCP.
func Dialer() *net.Dialer {
	d := new(net.Dialer)
	d.SetMultipathTCP(true)
	return d
}

// Pair returns both ends of an MPTCP connection over loopback, closed when
// the test ends, or skips the test (see Require).
func Pair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln := Listen(t)
	c, err := Dialer().Dial("tcp", ln.Addr().String())
	require.NoError(t, err, "Dial")
	s, err := ln.Accept()
	require.NoError(t, err, "Accept")
	client, server = c.(*net.TCPConn), s.(*net.TCPConn)
	t.Cleanup(func() { client.Close(); server.Close() })
	Require(t, client, server)
	return client, server
}

// Require skips the test unless every conn is MPTCP: the kernel may be
// built without it (CONFIG_MPTCP), or have it turned off
// (net.mptcp.enabled=0). Under CI=true the test fails in the second case:
// .ci/run turns MPTCP on, and a skip would hide that it did not.
func Require(t testing.TB, conns ...*net.TCPConn) {
	t.Helper()
	for _, c := range conns {
		if mp, err := c.MultipathTCP(); err != nil || !mp {
			_, serr := os.Stat(enabledSysctl)
			if os.Getenv("CI") == "true" && serr == nil {
				t.Fatalf("mptcptest: a conn is not MPTCP, though this kernel has it (CI must run this test; is %s 1?): %v", enabledSysctl, err)
			}
			t.Skipf("SKIP: MPTCP is not available here (%s, CONFIG_MPTCP): %v", enabledSysctl, err)
		}
	}
}

// enabledSysctl is net.mptcp.enabled, present when the kernel has MPTCP.
const enabledSysctl = "/proc/sys/net/mptcp/enabled"

// WaitPoll waits until poll reports one of the events in mask (unix.POLLIN,
// POLLRDHUP, POLLERR, ...) for c's socket. It reads nothing, so a tracked
// conn records nothing.
func WaitPoll(t testing.TB, c syscall.Conn, mask int16) {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err, "SyscallConn")
	require.Eventually(t, func() bool {
		var ev int16
		require.NoError(t, rc.Control(func(fd uintptr) {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN | unix.POLLRDHUP}}
			if _, err := unix.Poll(pfd, 0); err == nil {
				ev = pfd[0].Revents
			}
		}), "Control")
		return ev&mask != 0
	}, 5*time.Second, time.Millisecond, "poll events %#x", mask)
}
