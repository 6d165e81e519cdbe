package trackedconn_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

func TestGroupProbeAndCloseIf(t *testing.T) {
	plRequirePeeks(t)
	var g trackedconn.Group
	rec := new(recorder)
	open, _ := tcpPair(t)
	gone, goneSrv := tcpPair(t)
	p1, p2 := net.Pipe()
	defer p2.Close()
	a := trackedconn.Wrap(open, trackedconn.WithGroup(&g), trackedconn.WithName("open"))
	b := trackedconn.Wrap(gone, trackedconn.WithGroup(&g), trackedconn.WithName("gone"), trackedconn.WithHook(rec))
	c := trackedconn.Wrap(p1, trackedconn.WithGroup(&g), trackedconn.WithName("pipe"))
	defer a.Close()
	defer c.Close()
	require.NoError(t, goneSrv.Close(), "peer Close")
	waitTCPState(t, b, "close-wait")

	got := g.Probe()
	require.Len(t, got, 3, "Probe() of 3 live conns")
	names := []string{got[0].State.Name, got[1].State.Name, got[2].State.Name}
	assert.Equal(t, []string{"open", "gone", "pipe"}, names, "oldest first")
	assert.Equal(t, trackedconn.LivenessOpen, got[0].Liveness, "open conn")
	assert.Equal(t, trackedconn.LivenessPeerClosed, got[1].Liveness, "conn whose peer closed")
	assert.True(t, got[1].State.PeerClosed, "State taken after the probe records the FIN")
	assert.Equal(t, trackedconn.LivenessUnknown, got[2].Liveness, "pipe")
	require.NotNil(t, got[0].TCP, "TCP of a TCP conn")
	assert.Equal(t, "established", got[0].TCP.State, "TCP.State")
	assert.Nil(t, got[2].TCP, "TCP of a pipe")

	var asked []string
	n := g.CloseIf(func(p trackedconn.Probed) bool {
		asked = append(asked, p.State.Name)
		return p.Liveness == trackedconn.LivenessPeerClosed || p.Liveness == trackedconn.LivenessStalled
	})
	assert.Equal(t, 1, n, "CloseIf closed")
	assert.Equal(t, []string{"open", "gone", "pipe"}, asked, "fn sees every live conn")
	assert.True(t, b.State().Closed, "the peer-closed conn is closed")
	assert.Equal(t, trackedconn.CausePeer, b.State().Cause, "its Cause")
	assert.Equal(t, 1, rec.count(trackedconn.EventClose), "EventClose once")
	assert.Equal(t, uint64(2), g.Stats().Active, "Active after CloseIf")
	assert.ErrorIs(t, b.Close(), net.ErrClosed, "Close after CloseIf")

	requirePanicPrefix(t, "trackedconn: ", func() { g.CloseIf(nil) })
}
