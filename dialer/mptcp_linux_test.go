package dialer_test

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/internal/mptcptest"
	"github.com/connwatch/connwatch/trackedconn"
)

// A dial function may dial MPTCP, whose TCP_INFO does not show the peer's
// close: the look at the first Close of a conn never probed must find it
// all the same.
func TestMPTCPCauseAtClose(t *testing.T) {
	ln := mptcptest.Listen(t)
	d := dialer.Wrap(mptcptest.Dialer().DialContext)
	c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err, "DialContext")
	tc := c.(*trackedconn.Conn)
	defer tc.Close()
	s, err := ln.Accept()
	require.NoError(t, err, "Accept")
	raw, ok := tc.NetConn().(*net.TCPConn)
	require.True(t, ok, "a TCP conn beneath")
	mptcptest.Require(t, raw)

	require.NoError(t, s.Close(), "the server leaves")
	mptcptest.WaitPoll(t, tc, unix.POLLRDHUP)
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CausePeer, tc.State().Cause, "Cause")
}
