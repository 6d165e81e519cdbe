package trackedconn

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plainTCPSource spares the look at Close its poll only for sources whose
// TCP conns cannot be MPTCP.
func TestPlainTCPSource(t *testing.T) {
	var tcp, mptcp net.Dialer
	tcp.SetMultipathTCP(false)
	mptcp.SetMultipathTCP(true)
	assert.True(t, plainTCPSource(&tcp), "a dialer without MPTCP")
	assert.False(t, plainTCPSource(&mptcp), "a dialer with MPTCP")

	listen := func(mp bool) net.Listener {
		var lc net.ListenConfig
		lc.SetMultipathTCP(mp)
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.NoError(t, err, "Listen")
		t.Cleanup(func() { ln.Close() })
		return ln
	}
	assert.True(t, plainTCPSource(listen(false)), "a plain TCP listener")
	mp := listen(true)
	k := sockUnknown
	rc, err := mp.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	require.NoError(t, rc.Control(func(fd uintptr) { k = sockKindOf(fd) }))
	if k == sockMPTCP {
		assert.False(t, plainTCPSource(mp), "an MPTCP listener")
	} else {
		assert.True(t, plainTCPSource(mp), "a listener that fell back to TCP")
	}

	ul, err := net.Listen("unix", t.TempDir()+"/s")
	require.NoError(t, err)
	defer ul.Close()
	assert.False(t, plainTCPSource(ul), "a Unix listener")
	assert.False(t, plainTCPSource(nil), "nothing")
}
