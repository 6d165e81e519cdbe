package trackedconn_test

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/trackedconn"
)

// waitTCPState waits, without recording anything, until the kernel shows
// the TCP state want for c.
func waitTCPState(t *testing.T, c *trackedconn.Conn, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ti, err := c.TCPInfo()
		require.NoError(t, err, "TCPInfo")
		if ti.State == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "TCP state %q, want %q", ti.State, want)
		time.Sleep(time.Millisecond)
	}
}

// waitRawTCPState waits until the kernel shows the TCP state want for the
// raw conn c, reading TCP_INFO through c itself, so that a wrapper of c
// neither records anything nor builds the prober that Probe and TCPInfo
// keep (with which its first Close would not take the look it takes
// otherwise).
func waitRawTCPState(t *testing.T, c *net.TCPConn, want string) {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err, "SyscallConn")
	deadline := time.Now().Add(5 * time.Second)
	for {
		var (
			ti   *unix.TCPInfo
			gerr error
		)
		require.NoError(t, rc.Control(func(fd uintptr) { ti, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }))
		require.NoError(t, gerr, "TCP_INFO")
		got := tcpStateName(ti.State)
		if got == want {
			return
		}
		require.True(t, time.Now().Before(deadline), "TCP state %q, want %q", got, want)
		time.Sleep(time.Millisecond)
	}
}

// tcpStateName names a Linux TCP state as TCPInfo.State does.
func tcpStateName(s uint8) string {
	names := [...]string{1: "established", 2: "syn-sent", 3: "syn-recv", 4: "fin-wait-1", 5: "fin-wait-2", 6: "time-wait", 7: "close", 8: "close-wait", 9: "last-ack", 10: "listen", 11: "closing"}
	if int(s) < len(names) {
		return names[s]
	}
	return ""
}

// rawRead reads once from c's descriptor behind the wrapper's back, as
// go-redis's and go-sql-driver/mysql's pool checks do.
func rawRead(t *testing.T, c *trackedconn.Conn) (int, error) {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err, "SyscallConn")
	var (
		n    int
		rerr error
	)
	require.NoError(t, rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), make([]byte, 16))
		return true
	}), "raw Read")
	return n, rerr
}

// The first Close looks at the socket once when nothing terminal was
// recorded, so that the Cause says who ended the conn even when nobody
// read the end, or when something else read it from the descriptor. Each
// case runs on a conn never probed (the look reads TCP_INFO with a prober
// of the pool's) and on one that a Probe gave a prober of its own (the look
// is a probe).
func TestCauseRefinedAtClose(t *testing.T) {
	runCauseCases(t, tcpPair, []causeCase{
		{name: "open", want: trackedconn.CauseLocal, settle: tcpState("established")},
		{
			name:   "FIN unread",
			peer:   func(t *testing.T, s *net.TCPConn) { require.NoError(t, s.Close()) },
			settle: tcpState("close-wait"), want: trackedconn.CausePeer, wantEvent: trackedconn.EventPeerClosed,
		},
		{
			name: "FIN behind an unread error message",
			peer: func(t *testing.T, s *net.TCPConn) {
				_, err := s.Write([]byte("FATAL: terminating connection"))
				require.NoError(t, err)
				require.NoError(t, s.Close())
			},
			settle: tcpState("close-wait"), want: trackedconn.CausePeer, wantEvent: trackedconn.EventPeerClosed,
		},
		{
			name:   "FIN taken by a raw read",
			peer:   func(t *testing.T, s *net.TCPConn) { require.NoError(t, s.Close()) },
			settle: tcpState("close-wait"),
			steps: func(t *testing.T, c *trackedconn.Conn, _ *net.TCPConn) {
				n, err := rawRead(t, c)
				require.NoError(t, err, "raw read of the FIN")
				require.Zero(t, n, "raw read of the FIN")
			},
			want: trackedconn.CausePeer, wantEvent: trackedconn.EventPeerClosed,
		},
		{
			// A pool's ping (or TLS's close_notify) after the server's
			// FIN draws an RST: the peer still closed first.
			name:   "RST answering our write after the FIN",
			peer:   func(t *testing.T, s *net.TCPConn) { require.NoError(t, s.Close()) },
			settle: tcpState("close-wait"),
			steps: func(t *testing.T, c *trackedconn.Conn, raw *net.TCPConn) {
				_, err := c.Write([]byte("PING"))
				require.NoError(t, err, "the write after the FIN succeeds (CLOSE_WAIT)")
				waitRawTCPState(t, raw, "close")
			},
			want: trackedconn.CausePeer, wantEvent: trackedconn.EventPeerClosed,
		},
		{
			name: "RST unread",
			peer: func(t *testing.T, s *net.TCPConn) {
				require.NoError(t, s.SetLinger(0))
				require.NoError(t, s.Close())
			},
			settle: tcpState("close"), want: trackedconn.CauseReset, wantEvent: trackedconn.EventReset,
		},
		{
			name: "RST taken by a raw read",
			peer: func(t *testing.T, s *net.TCPConn) {
				require.NoError(t, s.SetLinger(0))
				require.NoError(t, s.Close())
			},
			settle: tcpState("close"),
			steps: func(t *testing.T, c *trackedconn.Conn, _ *net.TCPConn) {
				_, err := rawRead(t, c)
				require.ErrorIs(t, err, syscall.ECONNRESET, "raw read of the RST")
			},
			want: trackedconn.CauseReset, wantEvent: trackedconn.EventReset,
		},
	})
}

// causeCase is a way the peer ends a conn before its first Close, and the
// Cause that Close must record.
type causeCase struct {
	name      string
	peer      func(t *testing.T, s *net.TCPConn)
	settle    func(t *testing.T, c *net.TCPConn) // waits, reading nothing, until the peer's act shows; nil: none
	steps     func(t *testing.T, c *trackedconn.Conn, raw *net.TCPConn)
	want      trackedconn.Cause
	wantEvent trackedconn.Event // fired by the look before Close; EventOpen: none
}

// tcpState settles a case once the kernel shows the TCP state want.
func tcpState(want string) func(t *testing.T, c *net.TCPConn) {
	return func(t *testing.T, c *net.TCPConn) { waitRawTCPState(t, c, want) }
}

// runCauseCases runs each case on a conn from pair, once never probed
// before Close and once probed.
func runCauseCases(t *testing.T, pair func(testing.TB) (client, server *net.TCPConn), cases []causeCase) {
	for _, tt := range cases {
		for _, probed := range []bool{false, true} {
			name := tt.name + "/unprobed"
			if probed {
				name = tt.name + "/probed"
			}
			t.Run(name, func(t *testing.T) {
				c, s := pair(t)
				tc, rec := wrapRec(c)
				if probed {
					require.Equal(t, trackedconn.LivenessOpen, tc.Probe(), "Probe before the peer acts")
				}
				if tt.peer != nil {
					tt.peer(t, s)
				}
				if tt.settle != nil {
					tt.settle(t, c)
				}
				if tt.steps != nil {
					tt.steps(t, tc, c)
				}
				require.NoError(t, tc.Close(), "Close")
				st := tc.State()
				assert.Equal(t, tt.want, st.Cause, "Cause")
				want := []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventClose}
				if tt.wantEvent != trackedconn.EventOpen {
					want = []trackedconn.Event{trackedconn.EventOpen, tt.wantEvent, trackedconn.EventClose}
				}
				assert.Equal(t, want, rec.events(), "events")
				switch tt.want {
				case trackedconn.CausePeer:
					assert.True(t, st.PeerClosed, "PeerClosed")
				case trackedconn.CauseReset:
					assert.True(t, st.Reset, "Reset")
				}
			})
		}
	}
}
