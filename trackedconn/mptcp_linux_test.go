package trackedconn_test

import (
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/internal/mptcptest"
	"github.com/connwatch/connwatch/trackedconn"
)

// An MPTCP socket's TCP_INFO is its first subflow's, whose state stays
// ESTABLISHED after the peer closed the connection; SIOCINQ counts one byte
// more than is queued once the peer's DATA_FIN is in. Probe judges it by
// poll, and says what it says of a TCP conn.
func TestProbeMPTCP(t *testing.T) {
	tests := []struct {
		name  string
		peer  func(t *testing.T, s *net.TCPConn)
		until int16 // poll events of the tracked side to wait for
		want  trackedconn.Liveness
	}{
		{name: "open", want: trackedconn.LivenessOpen},
		{
			name:  "data",
			peer:  func(t *testing.T, s *net.TCPConn) { _, err := s.Write([]byte("hi")); require.NoError(t, err) },
			until: unix.POLLIN, want: trackedconn.LivenessReadable,
		},
		{
			name: "data and FIN",
			peer: func(t *testing.T, s *net.TCPConn) {
				_, err := s.Write([]byte("bye"))
				require.NoError(t, err)
				require.NoError(t, s.Close())
			},
			until: unix.POLLRDHUP, want: trackedconn.LivenessReadable,
		},
		{
			name:  "FIN",
			peer:  func(t *testing.T, s *net.TCPConn) { require.NoError(t, s.Close()) },
			until: unix.POLLRDHUP, want: trackedconn.LivenessPeerClosed,
		},
		{
			name: "RST",
			peer: func(t *testing.T, s *net.TCPConn) {
				require.NoError(t, s.SetLinger(0))
				require.NoError(t, s.Close())
			},
			until: unix.POLLERR, want: trackedconn.LivenessReset,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s := mptcptest.Pair(t)
			tc := trackedconn.Wrap(c)
			defer tc.Close()
			if tt.peer != nil {
				tt.peer(t, s)
				mptcptest.WaitPoll(t, c, tt.until)
			}
			assert.Equal(t, tt.want, tc.Probe(), "Probe")
			assert.Equal(t, tt.want, tc.Probe(), "a second Probe")
			if tt.name == "data and FIN" {
				// The FIN is known before the data is read.
				assert.True(t, tc.State().PeerClosed, "PeerClosed")
				b := make([]byte, 8)
				n, err := tc.Read(b)
				require.NoError(t, err, "Read")
				assert.Equal(t, "bye", string(b[:n]))
				assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "Probe once the data is read")
			}
		})
	}
}

// An MPTCP conn has no TCPInfo: TCP_INFO would describe one subflow.
func TestTCPInfoOfMPTCPIsUnsupported(t *testing.T) {
	c, _ := mptcptest.Pair(t)
	tc := trackedconn.Wrap(c)
	defer tc.Close()
	_, err := tc.TCPInfo()
	require.ErrorIs(t, err, errors.ErrUnsupported)
}

// The look at the first Close finds the end of an MPTCP conn, whose
// TCP_INFO shows none, on a conn never probed (TCP_INFO, then poll) as on
// one that a Probe gave a prober of its own.
func TestCauseRefinedAtCloseMPTCP(t *testing.T) {
	runCauseCases(t, mptcptest.Pair, []causeCase{
		{name: "open", want: trackedconn.CauseLocal},
		{
			name:   "FIN unread",
			peer:   func(t *testing.T, s *net.TCPConn) { require.NoError(t, s.Close()) },
			settle: pollEvent(unix.POLLRDHUP), want: trackedconn.CausePeer, wantEvent: trackedconn.EventPeerClosed,
		},
		{
			name: "FIN behind an unread error message",
			peer: func(t *testing.T, s *net.TCPConn) {
				_, err := s.Write([]byte("FATAL: terminating connection"))
				require.NoError(t, err)
				require.NoError(t, s.Close())
			},
			settle: pollEvent(unix.POLLRDHUP), want: trackedconn.CausePeer, wantEvent: trackedconn.EventPeerClosed,
		},
		{
			name:   "FIN taken by a raw read",
			peer:   func(t *testing.T, s *net.TCPConn) { require.NoError(t, s.Close()) },
			settle: pollEvent(unix.POLLRDHUP),
			steps: func(t *testing.T, c *trackedconn.Conn, _ *net.TCPConn) {
				n, err := rawRead(t, c)
				require.NoError(t, err, "raw read of the FIN")
				require.Zero(t, n, "raw read of the FIN")
			},
			want: trackedconn.CausePeer, wantEvent: trackedconn.EventPeerClosed,
		},
		{
			name: "RST unread",
			peer: func(t *testing.T, s *net.TCPConn) {
				require.NoError(t, s.SetLinger(0))
				require.NoError(t, s.Close())
			},
			settle: pollEvent(unix.POLLERR), want: trackedconn.CauseReset, wantEvent: trackedconn.EventReset,
		},
		{
			name: "RST taken by a raw read",
			peer: func(t *testing.T, s *net.TCPConn) {
				require.NoError(t, s.SetLinger(0))
				require.NoError(t, s.Close())
			},
			settle: pollEvent(unix.POLLERR),
			steps: func(t *testing.T, c *trackedconn.Conn, _ *net.TCPConn) {
				_, err := rawRead(t, c)
				require.ErrorIs(t, err, syscall.ECONNRESET, "raw read of the RST")
			},
			want: trackedconn.CauseReset, wantEvent: trackedconn.EventReset,
		},
	})
}

// pollEvent settles a case once poll reports one of the events in mask.
func pollEvent(mask int16) func(t *testing.T, c *net.TCPConn) {
	return func(t *testing.T, c *net.TCPConn) { mptcptest.WaitPoll(t, c, mask) }
}
