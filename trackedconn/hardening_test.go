package trackedconn_test

import (
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

// Regression (issue 14 item 1): on Linux a probe that peeked into a reset
// took it, and the application's next Read returned a clean io.EOF instead
// of ECONNRESET.
func TestProbeLeavesResetForRead(t *testing.T) {
	plRequirePeeks(t)
	for _, name := range []string{"tcp", "unix"} {
		t.Run(name, func(t *testing.T) {
			var c, s net.Conn
			if name == "tcp" {
				c, s = tcpPair(t)
			} else {
				c, s = unixPair(t)
			}
			tc := trackedconn.Wrap(c)
			if name == "tcp" {
				require.NoError(t, s.(*net.TCPConn).SetLinger(0), "SetLinger(0)")
			} else {
				// A Unix stream peer that closes with our bytes unread
				// resets us.
				_, err := tc.Write([]byte("unread"))
				require.NoError(t, err, "Write")
			}
			require.NoError(t, s.Close(), "peer Close (RST)")
			plWaitState(t, tc, "Reset", func(st trackedconn.State) bool { return st.Reset })
			assert.Equal(t, trackedconn.LivenessReset, tc.Probe(), "Probe() after the reset")
			_, err := tc.Read(make([]byte, 8))
			assert.ErrorIs(t, err, syscall.ECONNRESET, "Read after Probe saw the reset must still get it")
		})
	}
}

// Regression (issue 14 item 3): IsClosed was true once Probe had seen the
// FIN behind unread data and CloseWrite was called, while ReadAll still
// returned the data.
func TestIsClosedNeedsEOFRead(t *testing.T) {
	plRequirePeeks(t)
	c, s := tcpPair(t)
	tc := trackedconn.Wrap(c)
	_, err := s.Write([]byte("data"))
	require.NoError(t, err, "peer Write")
	require.NoError(t, s.Close(), "peer Close")
	plWaitState(t, tc, "PeerClosed", func(st trackedconn.State) bool { return st.PeerClosed })
	require.NoError(t, tc.CloseWrite(), "CloseWrite")
	assert.False(t, tc.IsClosed(), "IsClosed() with data still readable")
	assert.False(t, tc.State().IsClosed(), "State().IsClosed() with data still readable")
	got, err := io.ReadAll(tc)
	require.NoError(t, err, "ReadAll")
	assert.Equal(t, "data", string(got), "ReadAll")
	assert.True(t, tc.IsClosed(), "IsClosed() once EOF was read and our side shut")
	assert.True(t, tc.State().IsClosed(), "State().IsClosed() once EOF was read and our side shut")
}

// yieldOnOpen widens the window in which EventOpen's hooks run.
var yieldOnOpen = trackedconn.HookFunc(func(e trackedconn.Event, _ trackedconn.State) {
	if e == trackedconn.EventOpen {
		runtime.Gosched()
	}
})

// Regression (issue 14 item 6): Group.CloseAll racing with Wrap fired
// EventClose before EventOpen.
func TestOpenBeforeCloseWhenCloseAllRacesWrap(t *testing.T) {
	var g trackedconn.Group
	const n = 3000
	recs := make([]*recorder, n)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				g.CloseAll()
			}
		}
	}()
	for i := range recs {
		recs[i] = new(recorder)
		c := trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g), trackedconn.WithHook(yieldOnOpen), trackedconn.WithHook(recs[i]))
		if i%2 == 0 {
			c.Close()
		}
	}
	close(stop)
	wg.Wait()
	g.CloseAll()
	for i, r := range recs {
		ev := r.events()
		require.NotEmpty(t, ev, "conn %d: no events", i)
		require.Equal(t, trackedconn.EventOpen, ev[0], "conn %d: first event of %v", i, ev)
		require.Equal(t, trackedconn.EventClose, ev[len(ev)-1], "conn %d: last event of %v", i, ev)
	}
	assert.Equal(t, uint64(0), g.Stats().Active, "Active after CloseAll")
}

// Regression (issue 14 item 7): a Write after our own CloseWrite failed
// with EPIPE and was recorded as a reset (Reset, IsClosed, Probe reset,
// EventReset, Cause reset) while the peer still talked.
func TestWriteAfterOwnCloseWriteIsNotReset(t *testing.T) {
	c, s := tcpPair(t)
	tc, rec := wrapRec(c)
	require.NoError(t, tc.CloseWrite(), "CloseWrite")
	_, err := tc.Write([]byte("too late"))
	require.Error(t, err, "Write after CloseWrite")
	st := tc.State()
	assert.False(t, st.Reset, "Reset after our own misuse")
	assert.False(t, tc.IsClosed(), "IsClosed: the peer can still send")
	assert.Zero(t, rec.count(trackedconn.EventReset), "EventReset")
	_, err = s.Write([]byte("still here"))
	require.NoError(t, err, "peer Write")
	buf := make([]byte, 32)
	n, err := tc.Read(buf)
	require.NoError(t, err, "Read")
	assert.Equal(t, "still here", string(buf[:n]), "Read")
	require.NoError(t, tc.Close(), "Close")
	assert.Equal(t, trackedconn.CauseLocal, tc.State().Cause, "Cause")
}

// panicCloser panics in Close.
type panicCloser struct{ nopConn }

func (panicCloser) Close() error { panic("inner Close panics") }

// Regression (issue 14 item 9): an inner Close that panicked left the conn
// Closed without EventClose, its group kept Active 1, and
// listener.Shutdown never returned.
func TestInnerClosePanicFinishes(t *testing.T) {
	var g trackedconn.Group
	c, rec := wrapRec(panicCloser{}, trackedconn.WithGroup(&g))
	require.PanicsWithValue(t, "inner Close panics", func() { c.Close() }, "the panic goes on")
	assert.Equal(t, uint64(0), g.Stats().Active, "Active after the panicking Close")
	assert.Equal(t, 1, rec.count(trackedconn.EventClose), "EventClose after the panicking Close")
	err := c.Close()
	assert.ErrorIs(t, err, net.ErrClosed, "second Close")
}

// Regression (issue 14 item 11): a State snapshot during Close could show
// Cause local with Closed false, and IsClosed() disagreed with
// State().IsClosed().
func TestStateDuringCloseIsConsistent(t *testing.T) {
	for range 2000 {
		c := trackedconn.Wrap(nopConn{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Close()
		}()
		for {
			st := c.State()
			if (st.Cause != trackedconn.CauseNone) != st.Closed {
				t.Fatalf("State() = Closed %v with Cause %v", st.Closed, st.Cause)
			}
			if st.Closed != !st.ClosedAt.IsZero() {
				t.Fatalf("State() = Closed %v with ClosedAt %v", st.Closed, st.ClosedAt)
			}
			if st.Closed != st.IsClosed() {
				t.Fatalf("State() = Closed %v, IsClosed() %v", st.Closed, st.IsClosed())
			}
			if st.Closed {
				break
			}
		}
		<-done
	}
}
