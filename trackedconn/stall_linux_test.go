package trackedconn_test

import (
	"bytes"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/netns"
	"github.com/connwatch/connwatch/internal/netns/netnstest"
	"github.com/connwatch/connwatch/trackedconn"
)

// The tests named *Netns* run in a private network namespace whose
// loopback drops every packet while blackholed: the peer vanishes without
// FIN or RST. See internal/netns.

func blackhole(t *testing.T, on bool) {
	t.Helper()
	require.NoError(t, netns.Blackhole(on), "blackhole %v", on)
}

// noKeepAlive turns Go's default keepalive (15 s) off on both ends, so that
// only what a test sets sends probes.
func noKeepAlive(t *testing.T, cs ...*net.TCPConn) {
	t.Helper()
	for _, c := range cs {
		require.NoError(t, c.SetKeepAlive(false), "SetKeepAlive(false)")
	}
}

// waitLiveness probes c every 10 ms until it answers want, and returns how
// long that took; it fails the test after limit.
func waitLiveness(t *testing.T, c *trackedconn.Conn, want trackedconn.Liveness, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		l := c.Probe()
		if l == want {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			ti, _ := c.TCPInfo()
			t.Fatalf("Probe() = %v after %v, want %v; TCPInfo %+v", l, limit, want, ti)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exchange sends one message each way, so that both ends have an RTT.
func exchange(t *testing.T, a, b net.Conn) {
	t.Helper()
	_, err := a.Write([]byte("ping"))
	require.NoError(t, err, "Write ping")
	_, err = io.ReadFull(b, make([]byte, 4))
	require.NoError(t, err, "Read ping")
	_, err = b.Write([]byte("pong"))
	require.NoError(t, err, "Write pong")
	_, err = io.ReadFull(a, make([]byte, 4))
	require.NoError(t, err, "Read pong")
}

// ghostPair returns a tracked client conn and its raw server end, with
// Go's default keepalive off on both and one message exchanged each way,
// ready for the peer to vanish.
func ghostPair(t *testing.T, opts ...trackedconn.Option) (*trackedconn.Conn, *net.TCPConn) {
	t.Helper()
	c, s := tcpPair(t)
	noKeepAlive(t, c, s)
	tc := trackedconn.Wrap(c, opts...)
	exchange(t, tc, s)
	return tc, s
}

// A peer that vanished while data is in flight reads stalled within one
// retransmission timeout (Linux: 200 ms minimum); when the path comes back
// the conn reads open again, and no byte is lost.
func TestNetnsStalledWithDataInFlight(t *testing.T) {
	if !netnstest.RunTest(t) {
		return
	}
	tc, s := ghostPair(t)
	assert.Equal(t, trackedconn.LivenessOpen, tc.Probe(), "Probe() before the blackhole")

	blackhole(t, true)
	msg := bytes.Repeat([]byte("x"), 1000)
	_, err := tc.Write(msg)
	require.NoError(t, err, "Write into the blackhole")
	took := waitLiveness(t, tc, trackedconn.LivenessStalled, 2*time.Second)
	t.Logf("stalled after %v (data in flight)", took)
	ti, err := tc.TCPInfo()
	require.NoError(t, err, "TCPInfo")
	assert.Positive(t, ti.Unacked, "TCPInfo().Unacked while stalled")
	assert.Positive(t, ti.Retransmits, "TCPInfo().Retransmits while stalled")
	assert.False(t, tc.State().IsClosed(), "a stall is not terminal")

	time.Sleep(300 * time.Millisecond)
	blackhole(t, false)
	back := waitLiveness(t, tc, trackedconn.LivenessOpen, 5*time.Second)
	t.Logf("open again %v after the path came back (RTO %v)", back, ti.RTO)
	require.NoError(t, s.SetReadDeadline(time.Now().Add(5*time.Second)))
	got := make([]byte, len(msg))
	_, err = io.ReadFull(s, got)
	require.NoError(t, err, "the peer reads the data once the path is back")
	assert.Equal(t, msg, got, "no byte lost")
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CauseLocal, tc.State().Cause, "Cause after the path came back")
}

// An idle conn with keepalive (1 s idle, 1 s interval) reads stalled once
// two probes in a row went unanswered.
func TestNetnsStalledIdleWithKeepAlive(t *testing.T) {
	if !netnstest.RunTest(t) {
		return
	}
	ka := net.KeepAliveConfig{Enable: true, Idle: time.Second, Interval: time.Second, Count: 9}
	tc, _ := ghostPair(t, trackedconn.WithKeepAlive(ka))
	blackhole(t, true)
	took := waitLiveness(t, tc, trackedconn.LivenessStalled, 4*time.Second)
	t.Logf("stalled after %v (idle, keepalive 1s/1s)", took)
	ti, err := tc.TCPInfo()
	require.NoError(t, err, "TCPInfo")
	assert.GreaterOrEqual(t, ti.Probes, uint32(2), "TCPInfo().Probes while stalled")
	assert.Zero(t, ti.Unacked, "TCPInfo().Unacked of an idle conn")
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CauseStalled, tc.State().Cause, "Cause of a conn closed while stalled")
}

// An idle conn without keepalive knows nothing of a vanished peer: it
// stays open (never a guess).
func TestNetnsIdleWithoutKeepAliveStaysOpen(t *testing.T) {
	if !netnstest.RunTest(t) {
		return
	}
	tc, _ := ghostPair(t)
	blackhole(t, true)
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		require.Equal(t, trackedconn.LivenessOpen, tc.Probe(), "Probe() of an idle conn without keepalive")
	}
}

// When the kernel gives up (TCP_USER_TIMEOUT), the Read fails with
// ETIMEDOUT: terminal, Cause stalled, and Probe says stalled from then on.
func TestNetnsUserTimeoutEndsStalled(t *testing.T) {
	if !netnstest.RunTest(t) {
		return
	}
	tc, _ := ghostPair(t, trackedconn.WithUserTimeout(500*time.Millisecond))
	blackhole(t, true)
	_, err := tc.Write([]byte("lost"))
	require.NoError(t, err, "Write into the blackhole")
	require.NoError(t, tc.SetReadDeadline(time.Now().Add(10*time.Second)))
	start := time.Now()
	_, err = tc.Read(make([]byte, 8))
	t.Logf("Read failed after %v: %v", time.Since(start), err)
	require.ErrorIs(t, err, syscall.ETIMEDOUT, "Read once the kernel gave up")
	assert.Equal(t, trackedconn.LivenessStalled, tc.Probe(), "Probe() after ETIMEDOUT")
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CauseStalled, tc.State().Cause, "Cause after ETIMEDOUT")
}

// A pool's own check may read ETIMEDOUT from the raw descriptor before
// Close: the Cause is still stalled.
func TestNetnsGaveUpFoundByRawReadIsStalled(t *testing.T) {
	if !netnstest.RunTest(t) {
		return
	}
	tc, _ := ghostPair(t, trackedconn.WithUserTimeout(300*time.Millisecond))
	blackhole(t, true)
	_, err := tc.Write([]byte("lost"))
	require.NoError(t, err, "Write into the blackhole")
	rc, err := tc.SyscallConn()
	require.NoError(t, err, "SyscallConn")
	deadline := time.Now().Add(5 * time.Second)
	var rerr error
	for rerr == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, rc.Read(func(fd uintptr) bool {
			_, rerr = syscall.Read(int(fd), make([]byte, 1))
			if rerr == syscall.EAGAIN {
				rerr = nil
			}
			return true
		}))
	}
	require.ErrorIs(t, rerr, syscall.ETIMEDOUT, "the raw read takes the error")
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CauseStalled, tc.State().Cause, "Cause after someone else took ETIMEDOUT")
}
