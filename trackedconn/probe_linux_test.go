package trackedconn_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

// A socket in CLOSE_WAIT has the peer's FIN behind unread data: Probe says
// readable and records PeerClosed at once (TCP_INFO); it keeps peeking
// while data remains, and says peer-closed once it is drained.
func TestProbeCloseWaitWithUnreadData(t *testing.T) {
	c, s := tcpPair(t)
	tc, rec := wrapRec(c)
	msg := []byte("the last words")
	_, err := s.Write(msg)
	require.NoError(t, err, "peer Write")
	require.NoError(t, s.Close(), "peer Close")

	plWaitState(t, tc, "PeerClosed", func(st trackedconn.State) bool { return st.PeerClosed })
	plProbeTwice(t, tc, trackedconn.LivenessReadable, "in CLOSE_WAIT with data unread")
	assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed fires at the probe that saw CLOSE_WAIT")
	assert.False(t, tc.IsClosed(), "IsClosed with data to read and our side open")

	got, err := io.ReadAll(tc)
	require.NoError(t, err, "read to EOF")
	assert.Equal(t, msg, got, "data read in CLOSE_WAIT")
	assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "Probe() once drained")
	assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed fires once (probe, then EOF)")
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CausePeer, tc.State().Cause, "Cause")
}

// The same, drained by probing alone: after the data is read by a plain
// Read that stops short of EOF, the next probe finds the FIN with nothing
// before it.
func TestProbeCloseWaitDrainedWithoutEOF(t *testing.T) {
	c, s := tcpPair(t)
	tc, rec := wrapRec(c)
	_, err := s.Write([]byte("ab"))
	require.NoError(t, err, "peer Write")
	require.NoError(t, s.Close(), "peer Close")
	plWaitState(t, tc, "PeerClosed", func(st trackedconn.State) bool { return st.PeerClosed })

	b := make([]byte, 2)
	_, err = io.ReadFull(tc, b)
	require.NoError(t, err, "Read of the data, not of the EOF")
	assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "Probe() with only the FIN left")
	assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "second Probe()")
	assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed fires once")
}

// Probe allocates nothing once the conn's prober is cached, on an idle
// socket (recv only) and with data pending (recv plus TCP_INFO).
func TestProbeAllocs(t *testing.T) {
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	require.Equal(t, trackedconn.LivenessOpen, tc.Probe(), "first Probe()")
	allocs := testing.AllocsPerRun(100, func() { tc.Probe() })
	assert.Zero(t, allocs, "allocs per Probe() on an idle conn")

	_, err := s.Write([]byte("x"))
	require.NoError(t, err, "peer Write")
	plWaitProbe(t, tc, trackedconn.LivenessReadable)
	allocs = testing.AllocsPerRun(100, func() { tc.Probe() })
	assert.Zero(t, allocs, "allocs per Probe() with data pending")
}
