package trackedconn_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

func TestConstructionPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func()
	}{
		{"Wrap(nil)", func() { trackedconn.Wrap(nil) }},
		{"WithHook(nil)", func() { trackedconn.WithHook(nil) }},
		// It used to be accepted, and then every event logged a nil dereference.
		{"WithHook(HookFunc(nil))", func() { trackedconn.WithHook(trackedconn.HookFunc(nil)) }},
		{"WithGroup(nil)", func() { trackedconn.WithGroup(nil) }},
		{"WithSide out of range", func() { trackedconn.WithSide(trackedconn.SideClient + 1) }},
		{"nil Option given to Wrap", func() { trackedconn.Wrap(nopConn{}, nil) }},
		{"nil Option given to Wrap after another", func() { trackedconn.Wrap(nopConn{}, trackedconn.WithName("x"), nil) }},
		{"nil Option given to Options", func() { trackedconn.Options(trackedconn.WithName("x"), nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requirePanicPrefix(t, "trackedconn:", tt.f)
		})
	}
}

func TestEnumStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got  fmt.Stringer
		want string
	}{
		{trackedconn.SideUnknown, "unknown"}, {trackedconn.SideServer, "server"}, {trackedconn.SideClient, "client"},
		{trackedconn.Side(7), "Side(7)"},
		{trackedconn.CauseNone, "none"}, {trackedconn.CauseLocal, "local"}, {trackedconn.CausePeer, "peer"},
		{trackedconn.CauseReset, "reset"}, {trackedconn.CauseTimeout, "timeout"}, {trackedconn.CauseError, "error"},
		{trackedconn.CauseLeak, "leak"}, {trackedconn.CauseStalled, "stalled"}, {trackedconn.Cause(200), "Cause(200)"},
		{trackedconn.LivenessUnknown, "unknown"}, {trackedconn.LivenessOpen, "open"}, {trackedconn.LivenessReadable, "readable"},
		{trackedconn.LivenessPeerClosed, "peer-closed"}, {trackedconn.LivenessReset, "reset"}, {trackedconn.LivenessClosed, "closed"},
		{trackedconn.LivenessStalled, "stalled"}, {trackedconn.Liveness(7), "Liveness(7)"},
		{trackedconn.EventOpen, "open"}, {trackedconn.EventPeerClosed, "peer-closed"}, {trackedconn.EventReadShut, "read-shut"},
		{trackedconn.EventWriteShut, "write-shut"}, {trackedconn.EventReset, "reset"}, {trackedconn.EventClose, "close"},
		{trackedconn.EventLeak, "leak"}, {trackedconn.Event(7), "Event(7)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got.String(), "%T(%d).String()", tt.got, tt.got)
	}
}

func TestWrapTrackedReturnsIt(t *testing.T) {
	t.Parallel()
	c, rec := wrapRec(nopConn{}, trackedconn.WithName("first"))
	rec2 := new(recorder)
	again := trackedconn.Wrap(c, trackedconn.WithName("second"), trackedconn.WithHook(rec2))
	require.Same(t, c, again, "Wrap of a *Conn must return the same pointer")
	var nc net.Conn = c
	require.Same(t, c, trackedconn.Wrap(nc), "Wrap of a *Conn held in a net.Conn must return it")
	assert.Equal(t, "first", again.State().Name, "the options of a second Wrap must be ignored")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, rec.events(), "a second Wrap must not fire EventOpen again")
	assert.Empty(t, rec2.events(), "hooks given to a second Wrap must not run")
	require.NoError(t, c.Close())
}

func TestIDUniqueAndNonZero(t *testing.T) {
	t.Parallel()
	const goroutines, each = 8, 200
	ids := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				c := trackedconn.Wrap(nopConn{})
				ids[g] = append(ids[g], c.ID())
				if c.ID() != c.State().ID {
					t.Errorf("ID() = %d, State().ID = %d", c.ID(), c.State().ID)
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint64]bool)
	for _, list := range ids {
		for _, id := range list {
			require.NotZero(t, id, "ID must never be 0")
			require.False(t, seen[id], "ID %d given to two conns", id)
			seen[id] = true
		}
	}
	require.Len(t, seen, goroutines*each)
}

// A conn takes its ID on first use: goroutines asking for it at once all
// get the same one, and it does not change afterwards.
func TestIDFirstUseIsShared(t *testing.T) {
	t.Parallel()
	for range 1000 {
		c := trackedconn.Wrap(nopConn{}) // no hook: nothing asks for the ID at Wrap
		const n = 4
		got := make([]uint64, n)
		start := make(chan struct{})
		var ready, done sync.WaitGroup
		for i := range n {
			ready.Add(1)
			done.Go(func() {
				ready.Done()
				<-start
				if i%2 == 0 {
					got[i] = c.ID()
				} else {
					got[i] = c.State().ID
				}
			})
		}
		ready.Wait()
		close(start)
		done.Wait()
		for i := range n {
			require.NotZero(t, got[i])
			require.Equal(t, got[0], got[i], "goroutine %d saw another ID", i)
		}
		require.Equal(t, got[0], c.ID(), "the ID changed after first use")
		require.NoError(t, c.Close())
	}
}

func TestEventOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []trackedconn.Option
		wantName string
		wantSide trackedconn.Side
	}{
		{"bare", nil, "", trackedconn.SideUnknown},
		{"server", []trackedconn.Option{trackedconn.WithSide(trackedconn.SideServer), trackedconn.WithName("db")}, "db", trackedconn.SideServer},
		{"client", []trackedconn.Option{trackedconn.WithName("api"), trackedconn.WithSide(trackedconn.SideClient)}, "api", trackedconn.SideClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, _ := tcpPair(t)
			before := time.Now()
			c, rec := wrapRec(client, tt.opts...)
			require.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, rec.events(), "Wrap must fire exactly EventOpen")
			st := rec.state(t, trackedconn.EventOpen)
			assert.Equal(t, c.ID(), st.ID, "EventOpen State.ID")
			assert.Equal(t, tt.wantName, st.Name, "EventOpen State.Name")
			assert.Equal(t, tt.wantSide, st.Side, "EventOpen State.Side")
			assert.Equal(t, client.LocalAddr(), st.LocalAddr, "EventOpen State.LocalAddr")
			assert.Equal(t, client.RemoteAddr(), st.RemoteAddr, "EventOpen State.RemoteAddr")
			assert.False(t, st.OpenedAt.Before(before.Add(-time.Millisecond)), "OpenedAt %v is before Wrap was called (%v)", st.OpenedAt, before)
			assert.True(t, st.ClosedAt.IsZero(), "ClosedAt must be zero while open")
			assert.True(t, st.LastReadAt.IsZero() && st.LastWriteAt.IsZero(), "LastReadAt/LastWriteAt must be zero before any byte moved")
			assert.False(t, st.Closed || st.PeerClosed || st.ReadShut || st.WriteShut || st.Reset || st.TimedOut, "no flag may be set at open: %+v", st)
			assert.Equal(t, trackedconn.CauseNone, st.Cause, "Cause while open")
			assert.False(t, c.IsClosed(), "IsClosed right after Wrap")
			require.NoError(t, c.Close())
			assert.Equal(t, 1, rec.count(trackedconn.EventOpen), "EventOpen must fire once")
		})
	}
}

func TestOptionsMerge(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls []string
	hook := func(name string) trackedconn.Hook {
		return trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
			mu.Lock()
			calls = append(calls, name+":"+e.String()+":"+s.Name)
			mu.Unlock()
		})
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := calls
		calls = nil
		return out
	}
	base := trackedconn.Options(trackedconn.WithName("base"), trackedconn.WithHook(hook("h1")), trackedconn.WithSide(trackedconn.SideServer))

	tests := []struct {
		name      string
		opts      []trackedconn.Option
		wantCalls []string // at EventOpen
		wantSide  trackedconn.Side
	}{
		{"merged alone", []trackedconn.Option{base}, []string{"h1:open:base"}, trackedconn.SideServer},
		{"a later WithName overrides", []trackedconn.Option{base, trackedconn.WithName("late")}, []string{"h1:open:late"}, trackedconn.SideServer},
		{"an earlier WithName is overridden by the merged one", []trackedconn.Option{trackedconn.WithName("early"), base}, []string{"h1:open:base"}, trackedconn.SideServer},
		{"later hooks append in order", []trackedconn.Option{base, trackedconn.WithHook(hook("h2")), trackedconn.WithHook(hook("h3"))},
			[]string{"h1:open:base", "h2:open:base", "h3:open:base"}, trackedconn.SideServer},
		{"earlier hooks run first", []trackedconn.Option{trackedconn.WithHook(hook("h0")), base}, []string{"h0:open:base", "h1:open:base"}, trackedconn.SideServer},
		{"nested Options", []trackedconn.Option{trackedconn.Options(base, trackedconn.WithHook(hook("h5"))), trackedconn.WithName("n"), trackedconn.WithSide(trackedconn.SideClient)},
			[]string{"h1:open:n", "h5:open:n"}, trackedconn.SideClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := trackedconn.Wrap(nopConn{}, tt.opts...)
			assert.Equal(t, tt.wantCalls, take(), "hooks run at EventOpen, in option order")
			assert.Equal(t, tt.wantSide, c.State().Side, "Side")
			require.NoError(t, c.Close())
			take()
		})
	}

	t.Run("siblings built from one merged Option do not share hooks", func(t *testing.T) {
		a := trackedconn.Wrap(nopConn{}, base, trackedconn.WithHook(hook("ha")))
		b := trackedconn.Wrap(nopConn{}, base, trackedconn.WithHook(hook("hb")))
		take()
		require.NoError(t, a.Close())
		assert.Equal(t, []string{"h1:close:base", "ha:close:base"}, take(), "hooks of the first conn after the second was wrapped")
		require.NoError(t, b.Close())
		assert.Equal(t, []string{"h1:close:base", "hb:close:base"}, take(), "hooks of the second conn")
	})

	t.Run("a later WithGroup overrides", func(t *testing.T) {
		var g1, g2 trackedconn.Group
		c := trackedconn.Wrap(nopConn{}, trackedconn.Options(trackedconn.WithGroup(&g1)), trackedconn.WithGroup(&g2))
		assert.Empty(t, g1.Conns(), "the overridden group must not get the conn")
		assert.Len(t, g2.Conns(), 1, "the last group given must get the conn")
		require.NoError(t, c.Close())
		assert.Equal(t, uint64(0), g1.Stats().Opened, "the overridden group's Opened")
	})
}

func TestPeerCloseThenLocalClose(t *testing.T) {
	t.Parallel()
	client, server := tcpPair(t)
	c, rec := wrapRec(client)

	_, err := server.Write([]byte("hi"))
	require.NoError(t, err)
	require.NoError(t, server.Close())

	buf := make([]byte, 8)
	_, err = io.ReadFull(c, buf[:2])
	require.NoError(t, err, "reading the peer's bytes")
	n, err := c.Read(buf)
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF, "Read after the peer's FIN")
	require.True(t, err == io.EOF, "Read must return io.EOF itself, not %#v", err)

	st := c.State()
	assert.True(t, st.PeerClosed, "PeerClosed after io.EOF")
	assert.False(t, st.Closed, "Closed before Close")
	assert.False(t, c.IsClosed(), "IsClosed with only PeerClosed: writes are still possible")
	assert.Equal(t, trackedconn.CauseNone, st.Cause, "Cause while open")
	assert.Equal(t, int64(2), st.BytesRead, "BytesRead")
	assert.False(t, st.LastReadAt.Before(st.OpenedAt), "LastReadAt %v before OpenedAt %v", st.LastReadAt, st.OpenedAt)

	_, err = c.Read(buf)
	require.True(t, err == io.EOF, "a second Read must return io.EOF again, got %v", err)
	assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed must fire once")

	require.NoError(t, c.Close())
	st = c.State()
	assert.True(t, st.Closed, "Closed after Close")
	assert.False(t, st.ClosedAt.IsZero(), "ClosedAt after Close")
	assert.False(t, st.ClosedAt.Before(st.OpenedAt), "ClosedAt %v before OpenedAt %v", st.ClosedAt, st.OpenedAt)
	assert.Equal(t, trackedconn.CausePeer, st.Cause, "Cause after the peer closed first")
	assert.True(t, c.IsClosed(), "IsClosed after Close")
	assert.Equal(t, st.ClosedAt.Sub(st.OpenedAt), st.Age(), "Age of a closed conn ends at ClosedAt")

	require.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventPeerClosed, trackedconn.EventClose}, rec.events())
	cs := rec.state(t, trackedconn.EventClose)
	assert.True(t, cs.Closed, "EventClose State.Closed")
	assert.False(t, cs.ClosedAt.IsZero(), "EventClose State.ClosedAt")
	assert.Equal(t, trackedconn.CausePeer, cs.Cause, "EventClose State.Cause")
	assert.Equal(t, cs, c.State(), "State after EventClose must be final")
	ps := rec.state(t, trackedconn.EventPeerClosed)
	assert.True(t, ps.PeerClosed, "EventPeerClosed runs after the state is updated")
}

func TestEventCloseAfterInnerClose(t *testing.T) {
	t.Parallel()
	errInner := errors.New("inner close failed")
	f := &fakeConn{closeErr: errInner}
	var returnedAtEvent atomic.Bool
	var fired atomic.Int32
	c := trackedconn.Wrap(f, trackedconn.WithHook(trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		if e == trackedconn.EventClose {
			fired.Add(1)
			returnedAtEvent.Store(f.closeReturned.Load())
		}
	})))
	err := c.Close()
	require.True(t, err == errInner, "Close must return the inner Close's error unchanged, got %v", err)
	require.Equal(t, int32(1), fired.Load(), "EventClose must fire once")
	require.True(t, returnedAtEvent.Load(), "EventClose fired before the inner Close returned")
	assert.Equal(t, trackedconn.CauseLocal, c.State().Cause, "a failing inner Close does not change the Cause")
	require.ErrorIs(t, c.Close(), net.ErrClosed, "second Close")
	assert.Equal(t, int32(1), f.closes.Load(), "the inner Close must be called once")
}

// TestEventCloseIsLast: a Close racing with the hooks of another
// transition must not fire EventClose before them.
func TestEventCloseIsLast(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var got []trackedconn.Event
	c := trackedconn.Wrap(&fakeConn{readErr: io.EOF}, trackedconn.WithHook(trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		if e == trackedconn.EventPeerClosed {
			close(entered)
			<-release
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})))
	readDone := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		readDone <- err
	}()
	<-entered // the reader is inside the EventPeerClosed hook
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	require.NoError(t, <-closed, "Close while another goroutine runs a hook")
	close(release)
	require.ErrorIs(t, <-readDone, io.EOF)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventPeerClosed, trackedconn.EventClose}, got,
		"EventClose must come after the hooks of a transition that began before Close")
	assert.Equal(t, trackedconn.CausePeer, c.State().Cause, "Cause")
}

func TestLocalCloseFirst(t *testing.T) {
	t.Parallel()
	client, server := tcpPair(t)
	c, rec := wrapRec(client)

	require.NoError(t, c.Close(), "first Close returns the inner Close's nil")
	st := c.State()
	assert.True(t, st.Closed, "Closed")
	assert.False(t, st.ClosedAt.IsZero(), "ClosedAt")
	assert.Equal(t, trackedconn.CauseLocal, st.Cause, "Cause when this side closed first")
	assert.True(t, c.IsClosed(), "IsClosed")
	assert.False(t, st.PeerClosed, "PeerClosed after a local Close")

	err := c.Close()
	require.ErrorIs(t, err, net.ErrClosed, "second Close")
	assert.True(t, strings.Contains(err.Error(), "close"), "second Close error %q should name the operation", err)

	buf := make([]byte, 4)
	_, err = c.Read(buf)
	require.ErrorIs(t, err, net.ErrClosed, "Read after Close")
	_, err = c.Write(buf)
	require.ErrorIs(t, err, net.ErrClosed, "Write after Close")
	require.Error(t, c.CloseWrite(), "CloseWrite after Close")
	require.Error(t, c.CloseRead(), "CloseRead after Close")
	require.Error(t, c.SetDeadline(time.Now()), "SetDeadline after Close")

	assert.Equal(t, st, c.State(), "nothing after Close may change the State")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventClose}, rec.events(), "a second Close or I/O after Close must fire nothing")

	_, err = server.Read(buf)
	assert.ErrorIs(t, err, io.EOF, "the peer must see our FIN")

	errInner := fmt.Errorf("inner: %w", net.ErrClosed)
	fc := trackedconn.Wrap(&fakeConn{readErr: errInner, writeErr: errInner})
	require.NoError(t, fc.Close())
	fst := fc.State()
	_, err = fc.Read(buf)
	require.True(t, err == errInner, "Read after Close must return the inner error itself, got %#v", err)
	_, err = fc.Write(buf)
	require.True(t, err == errInner, "Write after Close must return the inner error itself, got %#v", err)
	assert.Equal(t, fst, fc.State(), "I/O errors after Close must change nothing")
}

func TestErrorsUnchanged(t *testing.T) {
	t.Parallel()
	errClosed := fmt.Errorf("inner: %w", net.ErrClosed)
	tests := []struct {
		name         string
		inner        *fakeConn
		wantTimedOut bool
		wantReset    bool
		wantCause    trackedconn.Cause
	}{
		{"net.ErrClosed wrapped", &fakeConn{readErr: errClosed, writeErr: errClosed}, false, false, trackedconn.CauseLocal},
		{"os.ErrDeadlineExceeded", &fakeConn{readErr: os.ErrDeadlineExceeded, writeErr: os.ErrDeadlineExceeded}, true, false, trackedconn.CauseTimeout},
		{"ECONNRESET", &fakeConn{readErr: syscall.ECONNRESET, writeErr: syscall.ECONNRESET}, false, true, trackedconn.CauseReset},
		{"EPIPE", &fakeConn{readErr: syscall.EPIPE, writeErr: syscall.EPIPE}, false, true, trackedconn.CauseReset},
		{"other error", &fakeConn{readErr: errors.New("boom"), writeErr: errors.New("bang")}, false, false, trackedconn.CauseError},
		{"io.ErrUnexpectedEOF", &fakeConn{readErr: io.ErrUnexpectedEOF, writeErr: io.ErrClosedPipe}, false, false, trackedconn.CausePeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := trackedconn.Wrap(tt.inner)
			buf := make([]byte, 4)
			_, err := c.Read(buf)
			require.True(t, err == tt.inner.readErr, "Read returned %#v, want the inner error %#v itself", err, tt.inner.readErr)
			_, err = c.Write(buf)
			require.True(t, err == tt.inner.writeErr, "Write returned %#v, want the inner error %#v itself", err, tt.inner.writeErr)
			st := c.State()
			assert.Equal(t, tt.wantTimedOut, st.TimedOut, "TimedOut")
			assert.Equal(t, tt.wantReset, st.Reset, "Reset")
			require.NoError(t, c.Close())
			assert.Equal(t, tt.wantCause, c.State().Cause, "Cause")
		})
	}
}

func TestConcurrentClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		inner func(t *testing.T) (net.Conn, *atomic.Int32)
	}{
		{"fake", func(t *testing.T) (net.Conn, *atomic.Int32) {
			f := new(fakeConn)
			return f, &f.closes
		}},
		{"tcp", func(t *testing.T) (net.Conn, *atomic.Int32) {
			client, _ := tcpPair(t)
			cc := &countClose{Conn: client}
			return cc, &cc.closes
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inner, closes := tt.inner(t)
			c, rec := wrapRec(inner)
			const n = 16
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = c.Close()
				}()
			}
			close(start)
			wg.Wait()
			nils := 0
			for _, err := range errs {
				if err == nil {
					nils++
				} else {
					assert.ErrorIs(t, err, net.ErrClosed, "a losing Close must match net.ErrClosed")
				}
			}
			assert.Equal(t, 1, nils, "exactly one Close must return the inner Close's nil")
			assert.Equal(t, int32(1), closes.Load(), "the inner Close must run once")
			assert.Equal(t, 1, rec.count(trackedconn.EventClose), "EventClose must fire once")
			assert.Equal(t, trackedconn.CauseLocal, c.State().Cause, "Cause")
		})
	}
}

// countClose counts the Close calls of the conn it embeds.
type countClose struct {
	net.Conn
	closes atomic.Int32
}

func (c *countClose) Close() error {
	c.closes.Add(1)
	return c.Conn.Close()
}

func TestResetOnRead(t *testing.T) {
	t.Parallel()
	client, server := tcpPair(t)
	c, rec := wrapRec(client)
	require.NoError(t, server.SetLinger(0), "SetLinger(0) makes Close send RST")
	require.NoError(t, server.Close())

	_, err := c.Read(make([]byte, 4))
	require.ErrorIs(t, err, syscall.ECONNRESET, "Read after the peer's RST")
	st := c.State()
	assert.True(t, st.Reset, "Reset after ECONNRESET")
	assert.True(t, c.IsClosed(), "IsClosed after a reset")
	assert.False(t, st.Closed, "Closed before Close")
	assert.False(t, st.PeerClosed, "an RST is not a FIN")
	assert.Equal(t, trackedconn.CauseNone, st.Cause, "Cause while open, even if reset")
	assert.Equal(t, 1, rec.count(trackedconn.EventReset), "EventReset must fire once")
	assert.True(t, rec.state(t, trackedconn.EventReset).Reset, "EventReset State.Reset")

	// Linux reports a reset once, then reads return io.EOF: that is no FIN.
	_, err = c.Read(make([]byte, 4))
	require.Error(t, err, "Read after a reset")
	assert.False(t, c.State().PeerClosed, "a read after the reset (%v) must not set PeerClosed", err)
	assert.Equal(t, 0, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed after a reset")

	require.NoError(t, c.Close())
	assert.Equal(t, trackedconn.CauseReset, c.State().Cause, "Cause after a reset")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventReset, trackedconn.EventClose}, rec.events())
}

func TestBrokenPipeOnWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		linger0   bool // the peer resets instead of sending FIN
		readEOF   bool // read the peer's FIN before writing
		wantErrs  []error
		wantCause trackedconn.Cause
	}{
		// In CLOSE_WAIT the RST answering our first write turns into EPIPE.
		{"after FIN", false, true, []error{syscall.EPIPE}, trackedconn.CausePeer},
		{"after RST", true, false, []error{syscall.ECONNRESET, syscall.EPIPE}, trackedconn.CauseReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, server := tcpPair(t)
			c, rec := wrapRec(client)
			if tt.linger0 {
				require.NoError(t, server.SetLinger(0))
			}
			require.NoError(t, server.Close())
			if tt.readEOF {
				_, err := c.Read(make([]byte, 1))
				require.ErrorIs(t, err, io.EOF, "the peer's FIN")
			}
			// The kernel answers our writes asynchronously: poll.
			var werr error
			require.Eventually(t, func() bool {
				_, werr = c.Write([]byte("x"))
				return werr != nil
			}, 10*time.Second, time.Millisecond, "writes to a conn whose peer is gone must fail")
			matched := false
			for _, want := range tt.wantErrs {
				matched = matched || errors.Is(werr, want)
			}
			require.True(t, matched, "Write error %v, want one of %v", werr, tt.wantErrs)
			assert.True(t, c.State().Reset, "Reset after %v", werr)
			assert.True(t, c.IsClosed(), "IsClosed after a broken pipe")
			assert.Equal(t, 1, rec.count(trackedconn.EventReset), "EventReset must fire once")
			require.NoError(t, c.Close())
			assert.Equal(t, tt.wantCause, c.State().Cause, "Cause is the first terminal event")
		})
	}
}

func TestDeadlines(t *testing.T) {
	t.Parallel()
	// expire sets a deadline that is in the future when it is set and has
	// passed when the operation runs. (A deadline set in the past is an
	// interruption, not a timeout: see TestDeadlineInThePastInterrupts.)
	expire := func(t *testing.T, set func(time.Time) error) {
		t.Helper()
		// 50 ms: on a loaded machine a 1 ms deadline could pass before it
		// is set, which makes it an interruption.
		d := time.Now().Add(50 * time.Millisecond)
		require.NoError(t, set(d))
		time.Sleep(time.Until(d) + time.Millisecond)
	}
	expectTimeout := func(t *testing.T, err error, op string) {
		t.Helper()
		require.ErrorIs(t, err, os.ErrDeadlineExceeded, "%s with an expired deadline", op)
		var ne net.Error
		require.ErrorAs(t, err, &ne, "%s error must stay a net.Error", op)
		require.True(t, ne.Timeout(), "%s error Timeout()", op)
	}
	tests := []struct {
		name      string
		run       func(t *testing.T, c *trackedconn.Conn, peer net.Conn)
		wantCause trackedconn.Cause
	}{
		{"read timeout, then Close", func(t *testing.T, c *trackedconn.Conn, peer net.Conn) {
			expire(t, c.SetReadDeadline)
			_, err := c.Read(make([]byte, 1))
			expectTimeout(t, err, "Read")
			assert.True(t, c.State().TimedOut, "TimedOut after a read timeout")
			assert.False(t, c.IsClosed(), "a timeout does not close the conn")
		}, trackedconn.CauseTimeout},
		{"read timeout, then a successful Read", func(t *testing.T, c *trackedconn.Conn, peer net.Conn) {
			expire(t, c.SetReadDeadline)
			_, err := c.Read(make([]byte, 1))
			expectTimeout(t, err, "Read")
			require.True(t, c.State().TimedOut, "TimedOut after a read timeout")
			require.NoError(t, c.SetReadDeadline(time.Time{}))
			_, err = peer.Write([]byte("x"))
			require.NoError(t, err)
			_, err = io.ReadFull(c, make([]byte, 1))
			require.NoError(t, err)
			assert.False(t, c.State().TimedOut, "a successful Read must clear TimedOut")
		}, trackedconn.CauseLocal},
		{"write timeout, then Close", func(t *testing.T, c *trackedconn.Conn, peer net.Conn) {
			expire(t, c.SetWriteDeadline)
			n, err := c.Write([]byte("x"))
			expectTimeout(t, err, "Write")
			assert.Equal(t, 0, n)
			assert.True(t, c.State().TimedOut, "TimedOut after a write timeout")
			assert.Equal(t, int64(0), c.State().BytesWritten, "BytesWritten after a failed Write")
		}, trackedconn.CauseTimeout},
		{"write timeout, then a successful Write", func(t *testing.T, c *trackedconn.Conn, peer net.Conn) {
			expire(t, c.SetWriteDeadline)
			_, err := c.Write([]byte("x"))
			expectTimeout(t, err, "Write")
			require.True(t, c.State().TimedOut, "TimedOut after a write timeout")
			require.NoError(t, c.SetWriteDeadline(time.Time{}))
			_, err = c.Write([]byte("y"))
			require.NoError(t, err)
			assert.False(t, c.State().TimedOut, "a successful Write must clear TimedOut")
			_, err = io.ReadFull(peer, make([]byte, 1))
			require.NoError(t, err)
		}, trackedconn.CauseLocal},
		{"SetDeadline timeout, then EOF", func(t *testing.T, c *trackedconn.Conn, peer net.Conn) {
			expire(t, c.SetDeadline)
			_, err := c.Read(make([]byte, 1))
			expectTimeout(t, err, "Read")
			require.NoError(t, c.SetDeadline(time.Time{}))
			require.NoError(t, peer.Close())
			_, err = c.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF)
			st := c.State()
			assert.False(t, st.TimedOut, "the EOF read is the latest failed operation, and not a timeout")
			assert.True(t, st.PeerClosed, "PeerClosed")
		}, trackedconn.CausePeer},
		{"EOF, then a timeout", func(t *testing.T, c *trackedconn.Conn, peer net.Conn) {
			require.NoError(t, peer.Close())
			_, err := c.Read(make([]byte, 1))
			require.ErrorIs(t, err, io.EOF)
			expire(t, c.SetReadDeadline)
			_, err = c.Read(make([]byte, 1))
			expectTimeout(t, err, "Read")
			assert.True(t, c.State().TimedOut, "TimedOut")
		}, trackedconn.CausePeer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, server := tcpPair(t)
			c, rec := wrapRec(client)
			tt.run(t, c, server)
			require.NoError(t, c.Close())
			assert.Equal(t, tt.wantCause, c.State().Cause, "Cause")
			assert.Equal(t, 1, rec.count(trackedconn.EventClose), "EventClose")
			assert.Equal(t, 0, rec.count(trackedconn.EventReset), "a timeout is not a reset")
		})
	}
}

// pairFuncs are the stream transports with half-close.
var pairFuncs = []struct {
	name string
	pair func(t testing.TB) (client, server net.Conn)
}{
	{"tcp", func(t testing.TB) (net.Conn, net.Conn) { c, s := tcpPair(t); return c, s }},
	{"unix", func(t testing.TB) (net.Conn, net.Conn) { c, s := unixPair(t); return c, s }},
}

func TestHalfClose(t *testing.T) {
	t.Parallel()
	for _, p := range pairFuncs {
		t.Run(p.name+"/CloseWrite", func(t *testing.T) {
			t.Parallel()
			client, server := p.pair(t)
			c, rec := wrapRec(client)
			_, err := c.Write([]byte("ping"))
			require.NoError(t, err)
			require.NoError(t, c.CloseWrite())
			st := c.State()
			assert.True(t, st.WriteShut, "WriteShut after CloseWrite")
			assert.False(t, st.ReadShut, "ReadShut after CloseWrite")
			assert.False(t, c.IsClosed(), "IsClosed with only WriteShut")
			_ = c.CloseWrite() // whatever the kernel says, no second event
			assert.Equal(t, 1, rec.count(trackedconn.EventWriteShut), "EventWriteShut must fire once")
			assert.True(t, rec.state(t, trackedconn.EventWriteShut).WriteShut, "EventWriteShut State.WriteShut")

			got, err := io.ReadAll(server)
			require.NoError(t, err, "the peer must read to EOF after our CloseWrite")
			assert.Equal(t, "ping", string(got))

			_, err = server.Write([]byte("pong"))
			require.NoError(t, err)
			require.NoError(t, server.Close())
			got, err = io.ReadAll(c)
			require.NoError(t, err, "reads still work after CloseWrite")
			assert.Equal(t, "pong", string(got))
			st = c.State()
			assert.True(t, st.PeerClosed, "PeerClosed")
			assert.False(t, st.Closed, "Closed")
			assert.True(t, c.IsClosed(), "IsClosed with PeerClosed and WriteShut")

			require.NoError(t, c.Close())
			assert.Equal(t, trackedconn.CausePeer, c.State().Cause, "Cause")
			assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventWriteShut, trackedconn.EventPeerClosed, trackedconn.EventClose}, rec.events())
		})
		t.Run(p.name+"/CloseRead", func(t *testing.T) {
			t.Parallel()
			client, server := p.pair(t)
			c, rec := wrapRec(client)
			require.NoError(t, c.CloseRead())
			st := c.State()
			assert.True(t, st.ReadShut, "ReadShut after CloseRead")
			assert.False(t, c.IsClosed(), "IsClosed with only ReadShut")
			_ = c.CloseRead()
			assert.Equal(t, 1, rec.count(trackedconn.EventReadShut), "EventReadShut must fire once")

			n, err := c.Read(make([]byte, 4))
			assert.Equal(t, 0, n)
			require.ErrorIs(t, err, io.EOF, "Read after our own CloseRead")
			assert.False(t, c.State().PeerClosed, "our own CloseRead's EOF must not set PeerClosed")
			assert.Equal(t, 0, rec.count(trackedconn.EventPeerClosed), "our own CloseRead's EOF must not fire EventPeerClosed")

			_, err = c.Write([]byte("x"))
			require.NoError(t, err, "writes still work after CloseRead")
			_, err = io.ReadFull(server, make([]byte, 1))
			require.NoError(t, err)

			require.NoError(t, c.CloseWrite())
			assert.True(t, c.IsClosed(), "IsClosed with ReadShut and WriteShut")
			assert.False(t, c.State().Closed, "Closed")
			require.NoError(t, c.Close())
			assert.Equal(t, trackedconn.CauseLocal, c.State().Cause, "Cause: our own CloseRead is no terminal event")
			assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventReadShut, trackedconn.EventWriteShut, trackedconn.EventClose}, rec.events())
		})
	}
}

func TestUnsupported(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer b.Close()
	c, rec := wrapRec(a)
	for name, f := range map[string]func() error{"CloseRead": c.CloseRead, "CloseWrite": c.CloseWrite} {
		err := f()
		require.ErrorIs(t, err, errors.ErrUnsupported, "%s on net.Pipe", name)
		assert.True(t, strings.HasPrefix(err.Error(), "trackedconn: "), "%s error %q must carry the package prefix", name, err)
	}
	rc, err := c.SyscallConn()
	require.ErrorIs(t, err, errors.ErrUnsupported, "SyscallConn on net.Pipe")
	assert.Nil(t, rc, "raw conn on error")
	st := c.State()
	assert.False(t, st.ReadShut || st.WriteShut, "an unsupported half-close must set nothing: %+v", st)
	assert.False(t, c.IsClosed(), "IsClosed")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, rec.events(), "an unsupported half-close must fire nothing")
	require.NoError(t, c.Close())
}

func TestSyscallConn(t *testing.T) {
	t.Parallel()
	for _, p := range pairFuncs {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			client, _ := p.pair(t)
			c := trackedconn.Wrap(client)
			rc, err := c.SyscallConn()
			require.NoError(t, err, "SyscallConn")
			var want uintptr
			innerRC, err := client.(syscall.Conn).SyscallConn()
			require.NoError(t, err)
			require.NoError(t, innerRC.Control(func(fd uintptr) { want = fd }))
			ran := false
			require.NoError(t, rc.Control(func(fd uintptr) {
				ran = true
				assert.Equal(t, want, fd, "Control must see the inner descriptor")
			}))
			require.True(t, ran, "Control must run its function")
			require.NoError(t, c.Close())
			require.Error(t, rc.Control(func(uintptr) {}), "Control after Close")
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	cl, sv := tlsPair(t)
	c, crec := wrapRec(cl, trackedconn.WithSide(trackedconn.SideClient))
	s, srec := wrapRec(sv, trackedconn.WithSide(trackedconn.SideServer))
	assert.Same(t, cl, c.NetConn(), "NetConn must return the *tls.Conn")
	_, err := c.SyscallConn()
	assert.ErrorIs(t, err, errors.ErrUnsupported, "SyscallConn over TLS")

	handshook := make(chan error, 1)
	go func() { handshook <- sv.Handshake() }()
	require.NoError(t, cl.Handshake(), "client handshake")
	require.NoError(t, <-handshook, "server handshake")

	msg, reply := "hello over TLS", "and back again!"
	_, err = c.Write([]byte(msg))
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(s, got)
	require.NoError(t, err)
	assert.Equal(t, msg, string(got))
	_, err = s.Write([]byte(reply))
	require.NoError(t, err)
	got = make([]byte, len(reply))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, reply, string(got))

	assert.Equal(t, int64(len(msg)), c.State().BytesWritten, "client BytesWritten counts plaintext")
	assert.Equal(t, int64(len(msg)), s.State().BytesRead, "server BytesRead counts plaintext")
	assert.Equal(t, int64(len(reply)), s.State().BytesWritten, "server BytesWritten counts plaintext")
	assert.Equal(t, int64(len(reply)), c.State().BytesRead, "client BytesRead counts plaintext")

	require.NoError(t, c.CloseWrite(), "CloseWrite sends close_notify")
	assert.True(t, c.State().WriteShut, "client WriteShut")
	_, err = s.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server reads close_notify as EOF")
	assert.True(t, s.State().PeerClosed, "server PeerClosed")

	require.NoError(t, s.Close())
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the client reads the server's close_notify as EOF")
	assert.True(t, c.IsClosed(), "client IsClosed with PeerClosed and WriteShut")
	require.NoError(t, c.Close())

	assert.Equal(t, trackedconn.CausePeer, s.State().Cause, "server Cause")
	assert.Equal(t, trackedconn.CausePeer, c.State().Cause, "client Cause")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventWriteShut, trackedconn.EventPeerClosed, trackedconn.EventClose}, crec.events(), "client events")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventPeerClosed, trackedconn.EventClose}, srec.events(), "server events")
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	client, server := tcpPair(t)
	c := trackedconn.Wrap(client)
	s := trackedconn.Wrap(server)
	const writers, chunks, size = 4, 100, 1000
	total := int64(writers * chunks * size)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 { // observers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, x := range []*trackedconn.Conn{c, s} {
					st := x.State()
					if st.BytesRead < 0 || st.BytesWritten < 0 {
						t.Errorf("negative counters: %+v", st)
					}
					x.IsClosed()
					x.Probe()
					_ = st.Age()
				}
			}
		}()
	}
	var writes sync.WaitGroup
	for range writers {
		writes.Add(1)
		go func() {
			defer writes.Done()
			buf := bytes.Repeat([]byte{'w'}, size)
			for range chunks {
				if _, err := c.Write(buf); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		}()
	}
	n, err := io.CopyN(io.Discard, readerOnly{s}, total)
	require.NoError(t, err)
	require.Equal(t, total, n)
	writes.Wait()

	// A Read blocked when Close comes returns net.ErrClosed, which is no EOF.
	readErr := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		readErr <- err
	}()
	closeErrs := make(chan error, 2)
	for range 2 {
		go func() { closeErrs <- c.Close() }()
	}
	e1, e2 := <-closeErrs, <-closeErrs
	require.True(t, (e1 == nil) != (e2 == nil), "exactly one of two racing Closes must succeed: %v, %v", e1, e2)
	require.ErrorIs(t, <-readErr, net.ErrClosed, "a Read blocked in Close")
	_, err = io.ReadAll(s)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	close(stop)
	wg.Wait()

	cs, ss := c.State(), s.State()
	assert.Equal(t, total, cs.BytesWritten, "client BytesWritten")
	assert.Equal(t, total, ss.BytesRead, "server BytesRead")
	assert.False(t, cs.PeerClosed, "a Read cut by our own Close is not the peer's EOF")
	assert.Equal(t, trackedconn.CauseLocal, cs.Cause, "client Cause")
	assert.Equal(t, trackedconn.CausePeer, ss.Cause, "server Cause")
}

// readerOnly hides WriteTo so that io.Copy calls Read.
type readerOnly struct{ io.Reader }

// writerOnly hides ReadFrom so that io.Copy calls Write.
type writerOnly struct{ io.Writer }

// TestHookPanic is not parallel: it swaps slog's default logger.
func TestHookPanic(t *testing.T) {
	var logged bytes.Buffer
	var logMu sync.Mutex
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logged}, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	var mu sync.Mutex
	var order []string
	add := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	boom := trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		add("boom:" + e.String())
		panic("hook exploded")
	})
	calm := trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) { add("calm:" + e.String()) })

	client, server := tcpPair(t)
	c := trackedconn.Wrap(client, trackedconn.WithHook(boom), trackedconn.WithHook(calm))
	_, err := server.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, server.Close())
	got, err := io.ReadAll(c)
	require.NoError(t, err, "Read must survive a panicking hook")
	assert.Equal(t, "x", string(got))
	require.NoError(t, c.Close(), "Close must survive a panicking hook")

	st := c.State()
	assert.True(t, st.Closed, "Closed")
	assert.Equal(t, trackedconn.CausePeer, st.Cause, "Cause")
	mu.Lock()
	assert.Equal(t, []string{"boom:open", "calm:open", "boom:peer-closed", "calm:peer-closed", "boom:close", "calm:close"}, order,
		"every hook runs, in option order, after a panicking one")
	mu.Unlock()
	logMu.Lock()
	assert.Contains(t, logged.String(), "hook exploded", "the panic must be logged")
	logMu.Unlock()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestAllocs is not parallel: testing.AllocsPerRun counts the whole
// process.
func TestAllocs(t *testing.T) {
	nopHook := trackedconn.HookFunc(func(trackedconn.Event, trackedconn.State) {})
	var g trackedconn.Group
	buf := make([]byte, 64)
	var st trackedconn.State
	for _, tc := range []struct {
		name string
		c    *trackedconn.Conn
	}{
		{"bare", trackedconn.Wrap(nopConn{})},
		{"grouped with a hook", trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g), trackedconn.WithHook(nopHook), trackedconn.WithName("n"))},
	} {
		c := tc.c
		for _, op := range []struct {
			name string
			f    func()
		}{
			{"Read", func() { c.Read(buf) }},
			{"Write", func() { c.Write(buf) }},
			{"State", func() { st = c.State() }},
			{"IsClosed", func() { c.IsClosed() }},
		} {
			got := testing.AllocsPerRun(1000, op.f)
			t.Logf("%s %s: %v allocs/op", tc.name, op.name, got)
			assert.Zero(t, got, "%s: %s must not allocate", tc.name, op.name)
		}
		require.NoError(t, c.Close())
	}
	_ = st

	merged := trackedconn.Options(trackedconn.WithGroup(&g), trackedconn.WithName("x"), trackedconn.WithHook(nopHook))
	leak := trackedconn.Options(trackedconn.WithLeakDetection())
	for _, tc := range []struct {
		name string
		max  float64
		f    func()
	}{
		// doc.go: one allocation (DESIGN.md allows two).
		{"Wrap", 1, func() { trackedconn.Wrap(nopConn{}) }},
		{"Wrap+Close", 1, func() { trackedconn.Wrap(nopConn{}).Close() }},
		{"Wrap+Close, merged Options with group and hook", 1, func() { trackedconn.Wrap(nopConn{}, merged).Close() }},
		// doc.go: five on Go 1.26, six on Go 1.25 (see leakWrapAllocs).
		{"Wrap+Close, leak detection", leakWrapAllocs(), func() { trackedconn.Wrap(nopConn{}, leak).Close() }},
	} {
		got := testing.AllocsPerRun(1000, tc.f)
		t.Logf("%s: %v allocs/op", tc.name, got)
		assert.LessOrEqual(t, got, tc.max, "%s allocations", tc.name)
	}
	assert.Equal(t, uint64(0), g.Stats().Active, "every grouped conn was closed")

	const n = 1000
	keep := make([]*trackedconn.Conn, n)
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for i := range keep {
		keep[i] = trackedconn.Wrap(nopConn{})
	}
	runtime.ReadMemStats(&ms1)
	perConn := float64(ms1.TotalAlloc-ms0.TotalAlloc) / n
	t.Logf("Wrap: %.0f bytes/conn", perConn)
	assert.LessOrEqual(t, perConn, 208.0, "doc.go says 208 bytes per Wrap (DESIGN.md allows 320)")
	for _, c := range keep {
		c.Close()
	}
}

// Regression: net/http interrupts its background read with a deadline in the
// past (SetReadDeadline(aLongTimeAgo)); that used to mark every conn the
// server closed on purpose as TimedOut, with Cause timeout.
func TestDeadlineInThePastInterrupts(t *testing.T) {
	for _, tc := range []struct {
		name        string
		deadline    func() time.Time
		wantTimeout bool
		wantCause   trackedconn.Cause
	}{
		{"past deadline interrupts", func() time.Time { return time.Unix(1, 0) }, false, trackedconn.CauseLocal},
		{"future deadline times out", func() time.Time { return time.Now().Add(200 * time.Millisecond) }, true, trackedconn.CauseTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := tcpPair(t)
			c, _ := wrapRec(client)
			readErr := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 1))
				readErr <- err
			}()
			require.NoError(t, c.SetReadDeadline(tc.deadline()))
			err := <-readErr
			require.ErrorIs(t, err, os.ErrDeadlineExceeded, "Read must return the deadline error unchanged")
			assert.Equal(t, tc.wantTimeout, c.State().TimedOut, "State().TimedOut")
			require.NoError(t, c.Close())
			assert.Equal(t, tc.wantCause, c.State().Cause, "Cause after Close")
		})
	}
}
