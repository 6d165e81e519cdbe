package trackedconn_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

func TestTCPInfoOfLoopbackConn(t *testing.T) {
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	exchange(t, tc, s)
	ti, err := tc.TCPInfo()
	require.NoError(t, err, "TCPInfo")
	assert.Equal(t, "established", ti.State, "State")
	assert.Positive(t, ti.RTT, "RTT after an exchange")
	assert.GreaterOrEqual(t, ti.RTO, 200*time.Millisecond, "RTO (Linux's minimum is 200 ms)")
	assert.Zero(t, ti.Unacked, "Unacked of an idle conn")
	assert.Zero(t, ti.Retransmits, "Retransmits of a healthy conn")
	assert.Positive(t, ti.SndWnd, "SndWnd of a reading peer")

	require.NoError(t, s.Close(), "peer Close")
	plWaitState(t, tc, "PeerClosed", func(st trackedconn.State) bool { return st.PeerClosed })
	ti, err = tc.TCPInfo()
	require.NoError(t, err, "TCPInfo after the peer's FIN")
	assert.Equal(t, "close-wait", ti.State, "State after the peer's FIN")

	require.NoError(t, tc.Close(), "Close")
	_, err = tc.TCPInfo()
	assert.ErrorIs(t, err, net.ErrClosed, "TCPInfo after Close")
}

func TestTCPInfoBeneathTLS(t *testing.T) {
	c, s := tlsPair(t)
	tc := trackedconn.Wrap(c)
	go s.Write([]byte("hi"))
	_, err := io.ReadFull(tc, make([]byte, 2))
	require.NoError(t, err, "Read through TLS")
	ti, err := tc.TCPInfo()
	require.NoError(t, err, "TCPInfo beneath *tls.Conn")
	assert.Equal(t, "established", ti.State, "State")
}

func TestTCPInfoUnsupported(t *testing.T) {
	uc, _ := unixPair(t)
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	for name, c := range map[string]net.Conn{"unix": uc, "pipe": p1} {
		_, err := trackedconn.Wrap(c).TCPInfo()
		assert.ErrorIs(t, err, errors.ErrUnsupported, "TCPInfo of a %s conn", name)
	}
}

func TestTCPInfoAllocs(t *testing.T) {
	c, _ := tcpPair(t)
	tc := trackedconn.Wrap(c)
	tc.TCPInfo() // builds the prober
	allocs := testing.AllocsPerRun(100, func() { tc.TCPInfo() })
	assert.Zero(t, allocs, "allocations per TCPInfo")
}

// A healthy conn under bulk load never reads stalled.
func TestNotStalledUnderBulkLoad(t *testing.T) {
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(io.Discard, s)
	}()
	stop := make(chan struct{})
	probes, seen := 0, map[trackedconn.Liveness]int{}
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			seen[tc.Probe()]++
			probes++
			time.Sleep(200 * time.Microsecond)
		}
	}()
	buf := bytes.Repeat([]byte("b"), 64<<10)
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		_, err := tc.Write(buf)
		require.NoError(t, err, "bulk Write")
	}
	close(stop)
	pwg.Wait()
	tc.Close()
	wg.Wait()
	t.Logf("%d probes under load: %v", probes, seen)
	assert.Zero(t, seen[trackedconn.LivenessStalled], "stalled answers under bulk load")
	assert.Positive(t, seen[trackedconn.LivenessOpen], "open answers under bulk load")
}

// A live peer that stopped reading advertises a zero window and answers
// the zero-window probes: never stalled.
func TestZeroWindowPeerIsNotStalled(t *testing.T) {
	c, s := tcpPair(t)
	require.NoError(t, s.SetReadBuffer(4096), "small receive buffer")
	tc := trackedconn.Wrap(c)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // blocks once the peer's window and our send buffer are full
		defer wg.Done()
		buf := bytes.Repeat([]byte("z"), 64<<10)
		for {
			if _, err := tc.Write(buf); err != nil {
				return // our Close at the end
			}
		}
	}()
	defer wg.Wait()
	defer tc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ti, err := tc.TCPInfo()
		require.NoError(t, err, "TCPInfo")
		if ti.SndWnd == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the window never closed: %+v", ti)
		time.Sleep(5 * time.Millisecond)
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		require.Equal(t, trackedconn.LivenessOpen, tc.Probe(), "Probe() with a zero-window peer")
	}
	ti, err := tc.TCPInfo()
	require.NoError(t, err, "TCPInfo")
	assert.Zero(t, ti.SndWnd, "SndWnd of a peer that stopped reading")
	t.Logf("zero window: %+v", ti)
}
