package listener_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/internal/mptcptest"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// An MPTCP listener (Go's default on Linux) may hand out MPTCP conns, whose
// TCP_INFO does not show the peer's close: the look at the first Close of a
// conn never probed must find it all the same.
func TestMPTCPCauseAtClose(t *testing.T) {
	ln := listener.Wrap(mptcptest.Listen(t))
	c, err := mptcptest.Dialer().Dial("tcp", ln.Addr().String())
	require.NoError(t, err, "Dial")
	defer c.Close()
	sc, err := ln.Accept()
	require.NoError(t, err, "Accept")
	tc := sc.(*trackedconn.Conn)
	raw, ok := tc.NetConn().(*net.TCPConn)
	require.True(t, ok, "a TCP conn beneath")
	mptcptest.Require(t, raw)

	require.NoError(t, c.Close(), "the client leaves")
	mptcptest.WaitPoll(t, tc, unix.POLLRDHUP)
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CausePeer, tc.State().Cause, "Cause")
}
