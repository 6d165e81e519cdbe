package listener_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

func TestListenerProbeAndCloseIf(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SKIP: Probe answers unknown on Windows")
	}
	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	stay, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer stay.Close()
	sc, err := ln.Accept()
	require.NoError(t, err)
	defer sc.Close()
	leave, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	lc, err := ln.Accept()
	require.NoError(t, err)
	defer lc.Close()
	require.NoError(t, leave.Close(), "the second client leaves")

	deadline := time.Now().Add(5 * time.Second)
	for {
		got := ln.Probe()
		require.Len(t, got, 2, "Probe() of two live conns")
		assert.Equal(t, trackedconn.LivenessOpen, got[0].Liveness, "the client that stays")
		if got[1].Liveness == trackedconn.LivenessPeerClosed {
			break
		}
		require.True(t, time.Now().Before(deadline), "the conn whose client left never read peer-closed: %v", got[1].Liveness)
		time.Sleep(time.Millisecond)
	}
	n := ln.CloseIf(func(p trackedconn.Probed) bool { return p.Liveness == trackedconn.LivenessPeerClosed })
	assert.Equal(t, 1, n, "CloseIf")
	assert.Equal(t, trackedconn.CausePeer, lc.(*trackedconn.Conn).State().Cause, "Cause of the reaped conn")
	assert.Equal(t, uint64(1), ln.Stats().Active, "Active after CloseIf")
}
