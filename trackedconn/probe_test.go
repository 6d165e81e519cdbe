package trackedconn_test

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

// plPeeks reports whether Probe can peek at sockets on this platform.
func plPeeks() bool {
	switch runtime.GOOS {
	case "windows", "plan9", "js", "wasip1", "aix":
		return false
	}
	return true
}

// plRequirePeeks skips the test where Probe cannot peek at sockets.
func plRequirePeeks(t *testing.T) {
	t.Helper()
	if !plPeeks() {
		t.Skipf("Probe answers LivenessUnknown for sockets on %s", runtime.GOOS)
	}
}

// plWaitProbe probes c until it answers one of want and returns that
// answer; it fails the test if none came within 5s. The wait covers the
// loopback's delivery of what the peer just sent.
func plWaitProbe(t *testing.T, c *trackedconn.Conn, want ...trackedconn.Liveness) trackedconn.Liveness {
	t.Helper()
	var got trackedconn.Liveness
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = plProbeWithin(t, c)
		if slices.Contains(want, got) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	require.Contains(t, want, got, "Probe() never answered one of %v", want)
	return got
}

// plWaitState probes c until its State satisfies ok; it fails the test if
// that did not happen within 5s.
func plWaitState(t *testing.T, c *trackedconn.Conn, what string, ok func(trackedconn.State) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(c.State()) {
		require.False(t, time.Now().After(deadline), "State never showed %s: %+v", what, c.State())
		plProbeWithin(t, c)
		time.Sleep(time.Millisecond)
	}
}

// plProbeWithin runs c.Probe and fails the test if it has not returned
// within 2s. It is a hang guard, not a timing assertion: a probe that
// waited for data or for a deadline would be stuck here.
func plProbeWithin(t *testing.T, c *trackedconn.Conn) trackedconn.Liveness {
	t.Helper()
	done := make(chan trackedconn.Liveness, 1)
	go func() { done <- c.Probe() }()
	select {
	case l := <-done:
		return l
	case <-time.After(2 * time.Second):
		require.FailNow(t, "Probe() blocked for 2s")
		return 0
	}
}

// plProbeTwice requires two probes in a row to answer want: a probe must
// not change what the next one sees.
func plProbeTwice(t *testing.T, c *trackedconn.Conn, want trackedconn.Liveness, msg string) {
	t.Helper()
	assert.Equal(t, want, plProbeWithin(t, c), "Probe() %s", msg)
	assert.Equal(t, want, plProbeWithin(t, c), "second Probe() %s", msg)
}

func TestProbeIdleTCPIsOpen(t *testing.T) {
	plRequirePeeks(t)
	c, _ := tcpPair(t)
	tc, rec := wrapRec(c)
	plProbeTwice(t, tc, trackedconn.LivenessOpen, "on an idle conn")
	st := tc.State()
	assert.False(t, st.PeerClosed || st.Reset || st.Closed || st.TimedOut, "an open probe recorded something: %+v", st)
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, rec.events(), "events of an idle probed conn")
}

// Readable twice, and the data then reads back intact: the peek consumes
// nothing.
func TestProbeReadableDoesNotConsume(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc, rec := wrapRec(c)
	msg := []byte("hello, probe")
	_, err := s.Write(msg)
	require.NoError(t, err, "peer Write")

	plWaitProbe(t, tc, trackedconn.LivenessReadable)
	plProbeTwice(t, tc, trackedconn.LivenessReadable, "with data pending")
	assert.Zero(t, tc.State().BytesRead, "probes counted bytes as read")
	assert.False(t, tc.State().PeerClosed, "PeerClosed with the peer still open")

	got := make([]byte, len(msg))
	_, err = io.ReadFull(tc, got)
	require.NoError(t, err, "Read after the probes")
	assert.Equal(t, msg, got, "data read after the probes")
	assert.Equal(t, trackedconn.LivenessOpen, tc.Probe(), "Probe() once the data was read")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, rec.events(), "events")
}

func TestProbeFINIsPeerClosed(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc, rec := wrapRec(c)
	require.NoError(t, s.Close(), "peer Close")

	plWaitProbe(t, tc, trackedconn.LivenessPeerClosed)
	st := tc.State()
	assert.True(t, st.PeerClosed, "State.PeerClosed after Probe found the FIN")
	assert.False(t, st.Reset, "State.Reset after a FIN")
	assert.False(t, tc.IsClosed(), "IsClosed: our side can still write")
	assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "second Probe()")

	n, err := tc.Read(make([]byte, 8))
	assert.Zero(t, n, "Read after FIN")
	assert.ErrorIs(t, err, io.EOF, "Read after FIN")
	assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed fires once (probe, probe, read)")

	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CausePeer, tc.State().Cause, "Cause after a probed FIN")
	assert.Equal(t, trackedconn.LivenessClosed, tc.Probe(), "Probe() after Close")
}

func TestProbeRSTIsReset(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc, rec := wrapRec(c)
	require.NoError(t, s.SetLinger(0), "SetLinger(0)")
	require.NoError(t, s.Close(), "peer Close with linger 0 (RST)")

	plWaitProbe(t, tc, trackedconn.LivenessReset)
	// Linux reports a pending reset to one receive only; the next peek
	// would see an EOF. Reset is sticky in State.
	assert.Equal(t, trackedconn.LivenessReset, tc.Probe(), "second Probe() after RST")
	st := tc.State()
	assert.True(t, st.Reset, "State.Reset after Probe found the RST")
	assert.True(t, tc.IsClosed(), "IsClosed after a reset")

	_, err := tc.Read(make([]byte, 8))
	assert.Error(t, err, "Read after RST") // ECONNRESET, or io.EOF on Linux once the probe took the reset
	assert.False(t, tc.State().PeerClosed, "an EOF after a reset is not the peer's FIN")
	assert.Equal(t, 1, rec.count(trackedconn.EventReset), "EventReset fires once")
	assert.Zero(t, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed after a reset")

	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CauseReset, tc.State().Cause, "Cause after a probed RST")
}

// Probe must not wait behind a goroutine parked in Read (RawConn.Read would:
// go-sql-driver/mysql#963).
func TestProbeWhileReadIsBlocked(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)

	started := make(chan struct{})
	type result struct {
		b   []byte
		err error
	}
	read := make(chan result, 1)
	go func() {
		close(started)
		b := make([]byte, 8)
		n, err := tc.Read(b)
		read <- result{b[:n], err}
	}()
	<-started
	time.Sleep(20 * time.Millisecond) // let the reader park in Read; the test holds either way

	assert.Equal(t, trackedconn.LivenessOpen, plProbeWithin(t, tc), "Probe() while a Read is blocked")

	_, err := s.Write([]byte("x"))
	require.NoError(t, err, "peer Write")
	select {
	case r := <-read:
		require.NoError(t, r.err, "the blocked Read")
		assert.Equal(t, []byte("x"), r.b, "the blocked Read got the byte the probe did not take")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the blocked Read never returned")
	}
}

// A read deadline in the past stops Read before it looks at the socket;
// Probe does not mind it, and leaves TimedOut alone.
func TestProbeIgnoresExpiredReadDeadline(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	require.NoError(t, tc.SetReadDeadline(time.Now().Add(5*time.Millisecond)), "SetReadDeadline")
	_, err := tc.Read(make([]byte, 1))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "Read past the deadline")
	require.True(t, tc.State().TimedOut, "TimedOut after the read deadline passed")

	assert.Equal(t, trackedconn.LivenessOpen, plProbeWithin(t, tc), "Probe() with an expired read deadline")
	_, err = s.Write([]byte("y"))
	require.NoError(t, err, "peer Write")
	plWaitProbe(t, tc, trackedconn.LivenessReadable)
	assert.True(t, tc.State().TimedOut, "a probe cleared TimedOut")

	require.NoError(t, tc.SetReadDeadline(time.Time{}), "clear the deadline")
	b := make([]byte, 1)
	_, err = io.ReadFull(tc, b)
	require.NoError(t, err, "Read")
	assert.Equal(t, "y", string(b), "byte read after the probe")
}

// Under TLS Probe looks at the TCP socket beneath the *tls.Conn. The peer's
// close_notify alert is a record on that socket, so a TLS close first shows
// as readable; the FIN behind it is known at once on Linux (State.PeerClosed),
// elsewhere once the alert was read.
func TestProbeUnderTLS(t *testing.T) {
	plRequirePeeks(t)
	ccfg, scfg := tlsConfigs()
	scfg = scfg.Clone()
	scfg.SessionTicketsDisabled = true // tickets would be records waiting on the socket
	c, s := tcpPair(t)
	client, server := tls.Client(c, ccfg), tls.Server(s, scfg)
	hs := make(chan error, 1)
	go func() { hs <- server.Handshake() }()
	require.NoError(t, client.Handshake(), "client handshake")
	require.NoError(t, <-hs, "server handshake")

	tc, rec := wrapRec(client)
	plProbeTwice(t, tc, trackedconn.LivenessOpen, "on an idle TLS conn")

	_, err := server.Write([]byte("hi"))
	require.NoError(t, err, "server Write")
	plWaitProbe(t, tc, trackedconn.LivenessReadable)
	b := make([]byte, 2)
	_, err = io.ReadFull(tc, b)
	require.NoError(t, err, "client Read")
	assert.Equal(t, "hi", string(b), "data read under TLS")
	assert.Equal(t, trackedconn.LivenessOpen, tc.Probe(), "Probe() once the record was read")

	require.NoError(t, server.Close(), "server Close (close_notify, then FIN)")
	got := plWaitProbe(t, tc, trackedconn.LivenessReadable, trackedconn.LivenessPeerClosed)
	assert.Equal(t, trackedconn.LivenessReadable, got, "the close_notify record comes before the FIN")
	if runtime.GOOS == "linux" {
		plWaitState(t, tc, "PeerClosed", func(st trackedconn.State) bool { return st.PeerClosed })
		assert.Equal(t, trackedconn.LivenessReadable, tc.Probe(), "the alert is still unread")
	}

	_, err = tc.Read(b)
	assert.ErrorIs(t, err, io.EOF, "Read of close_notify")
	assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "Probe() after close_notify was read")
	assert.True(t, tc.State().PeerClosed, "State.PeerClosed")
	assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed fires once")
}

// A peer that closes the TCP conn under TLS without close_notify shows as
// peer-closed at once.
func TestProbeUnderTLSWithoutCloseNotify(t *testing.T) {
	plRequirePeeks(t)
	ccfg, scfg := tlsConfigs()
	scfg = scfg.Clone()
	scfg.SessionTicketsDisabled = true
	c, s := tcpPair(t)
	client, server := tls.Client(c, ccfg), tls.Server(s, scfg)
	hs := make(chan error, 1)
	go func() { hs <- server.Handshake() }()
	require.NoError(t, client.Handshake(), "client handshake")
	require.NoError(t, <-hs, "server handshake")

	tc := trackedconn.Wrap(client)
	require.NoError(t, s.Close(), "close the TCP conn under the server's TLS")
	plWaitProbe(t, tc, trackedconn.LivenessPeerClosed)
	assert.True(t, tc.State().PeerClosed, "State.PeerClosed")
}

func TestProbeUnixSocket(t *testing.T) {
	plRequirePeeks(t)
	c, s := unixPair(t)
	tc, rec := wrapRec(c)
	plProbeTwice(t, tc, trackedconn.LivenessOpen, "on an idle Unix conn")

	_, err := s.Write([]byte("unix"))
	require.NoError(t, err, "peer Write")
	plWaitProbe(t, tc, trackedconn.LivenessReadable)
	b := make([]byte, 4)
	_, err = io.ReadFull(tc, b)
	require.NoError(t, err, "Read")
	assert.Equal(t, "unix", string(b), "data read after the probe")

	require.NoError(t, s.Close(), "peer Close")
	plWaitProbe(t, tc, trackedconn.LivenessPeerClosed)
	assert.True(t, tc.State().PeerClosed, "State.PeerClosed")
	assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed fires once")
}

func TestProbeWithoutSocketIsUnknown(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	tc := trackedconn.Wrap(a)
	assert.Equal(t, trackedconn.LivenessUnknown, tc.Probe(), "Probe() on net.Pipe")
	require.NoError(t, b.Close(), "close the other end of the pipe")
	assert.Equal(t, trackedconn.LivenessUnknown, tc.Probe(), "Probe() on net.Pipe whose other end closed")
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.LivenessClosed, tc.Probe(), "Probe() after Close")

	custom := trackedconn.Wrap(&fakeConn{})
	assert.Equal(t, trackedconn.LivenessUnknown, custom.Probe(), "Probe() on a conn without a descriptor")
}

// A datagram socket has no FIN and an empty datagram reads as zero bytes:
// Probe does not judge it.
func TestProbeUDPIsUnknown(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err, "listen UDP")
	defer srv.Close()
	cl, err := net.DialUDP("udp", nil, srv.LocalAddr().(*net.UDPAddr))
	require.NoError(t, err, "dial UDP")
	tc := trackedconn.Wrap(cl)
	defer tc.Close()
	assert.Equal(t, trackedconn.LivenessUnknown, tc.Probe(), "Probe() on UDP")
}

func TestProbeOnWindowsIsUnknown(t *testing.T) {
	if plPeeks() {
		t.Skipf("Probe peeks at sockets on %s", runtime.GOOS)
	}
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	assert.Equal(t, trackedconn.LivenessUnknown, tc.Probe(), "Probe() on an idle TCP conn")
	require.NoError(t, s.Close(), "peer Close")
	assert.Equal(t, trackedconn.LivenessUnknown, tc.Probe(), "Probe() after the peer closed: never a guess")
}

// Once a read saw EOF or a reset, Probe answers from State without a
// system call: here the descriptor is closed behind the wrapper's back, so a
// peek could only fail.
func TestProbeAnswersFromRecordedState(t *testing.T) {
	plRequirePeeks(t)
	t.Run("eof", func(t *testing.T) {
		c, s := tcpPair(t)
		tc := trackedconn.Wrap(c)
		require.NoError(t, s.Close(), "peer Close")
		_, err := io.ReadAll(tc)
		require.NoError(t, err, "read to EOF")
		require.NoError(t, c.Close(), "close the inner conn directly")
		assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "Probe() after EOF was read")
	})
	t.Run("reset", func(t *testing.T) {
		c, s := tcpPair(t)
		tc := trackedconn.Wrap(c)
		require.NoError(t, s.SetLinger(0), "SetLinger(0)")
		require.NoError(t, s.Close(), "peer Close (RST)")
		require.NoError(t, tc.SetReadDeadline(time.Now().Add(5*time.Second)), "SetReadDeadline")
		_, err := tc.Read(make([]byte, 1))
		require.Error(t, err, "Read after RST")
		require.True(t, tc.State().Reset, "Read recorded the reset")
		require.NoError(t, c.Close(), "close the inner conn directly")
		assert.Equal(t, trackedconn.LivenessReset, tc.Probe(), "Probe() after a reset was read")
	})
	t.Run("closed", func(t *testing.T) {
		c, _ := tcpPair(t)
		tc := trackedconn.Wrap(c)
		require.NoError(t, tc.Close(), "Close")
		assert.Equal(t, trackedconn.LivenessClosed, tc.Probe(), "Probe() after Close, never probed before")
	})
}

// After our own CloseRead a receive returns 0 whatever the peer did, which
// must not read as the peer's FIN. Linux still tells from the TCP state.
func TestProbeAfterCloseRead(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc, rec := wrapRec(c)
	require.NoError(t, tc.CloseRead(), "CloseRead")

	linux := runtime.GOOS == "linux" || runtime.GOOS == "android"
	got := plProbeWithin(t, tc)
	if linux {
		assert.Equal(t, trackedconn.LivenessOpen, got, "Probe() after CloseRead, peer open (TCP state)")
	} else {
		assert.Equal(t, trackedconn.LivenessUnknown, got, "Probe() after CloseRead, peer open")
	}
	assert.False(t, tc.State().PeerClosed, "our CloseRead recorded as the peer's FIN")

	require.NoError(t, s.Close(), "peer Close")
	if linux {
		plWaitProbe(t, tc, trackedconn.LivenessPeerClosed)
		assert.True(t, tc.State().PeerClosed, "State.PeerClosed from the TCP state")
		assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed fires once")
	} else {
		time.Sleep(20 * time.Millisecond) // give the FIN time to arrive; the answer must not change
		got := plProbeWithin(t, tc)
		assert.Contains(t, []trackedconn.Liveness{trackedconn.LivenessUnknown, trackedconn.LivenessReset}, got,
			"Probe() after CloseRead, peer closed: unknown (or a reset, if the peer's kernel answered our data)")
		assert.Zero(t, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed from a receive after CloseRead")
	}
}

// Probes race with reads, writes and Close; run with -race.
func TestProbeConcurrent(t *testing.T) {
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	go func() { _, _ = io.Copy(s, s) }() // echo until the client closes

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				l := tc.Probe()
				if l > trackedconn.LivenessClosed {
					t.Errorf("Probe() = %v, not a Liveness", l)
					return
				}
			}
		})
	}
	msg := []byte("ping")
	b := make([]byte, len(msg))
	for range 200 {
		_, err := tc.Write(msg)
		require.NoError(t, err, "Write")
		_, err = io.ReadFull(tc, b)
		require.NoError(t, err, "Read")
		require.Equal(t, msg, b, "echoed data")
	}
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.LivenessClosed, tc.Probe(), "Probe() after Close")
	close(stop)
	wg.Wait()
}

// The zero-byte write myth: writing nothing does not detect the peer's FIN,
// and the first real write after it succeeds (CLOSE_WAIT); Probe sees it.
func TestProbeSeesFINThatWritesMiss(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	require.NoError(t, s.Close(), "peer Close")
	plWaitProbe(t, tc, trackedconn.LivenessPeerClosed)

	_, err := tc.Write(nil)
	assert.NoError(t, err, "zero-byte Write after the peer's FIN")
	_, err = tc.Write([]byte("first"))
	assert.NoError(t, err, "first Write after the peer's FIN")
	assert.Equal(t, trackedconn.LivenessPeerClosed, tc.Probe(), "Probe() after the writes")
}
