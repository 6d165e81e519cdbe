package trackedconn_test

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

// plEvent is one event seen by plHook.
type plEvent struct {
	e trackedconn.Event
	s trackedconn.State
}

// plHook returns a hook that sends every event to the returned channel. It
// never blocks: EventLeak runs on the runtime's cleanup goroutine.
func plHook() (trackedconn.Hook, <-chan plEvent) {
	ch := make(chan plEvent, 16)
	return trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		select {
		case ch <- plEvent{e, s}:
		default:
		}
	}), ch
}

// plDropConn wraps c and drops the tracked conn without Close; it probes
// it first if probe is set (the cached prober must not keep it reachable).
//
//go:noinline
func plDropConn(c net.Conn, probe bool, opts ...trackedconn.Option) {
	tc := trackedconn.Wrap(c, opts...)
	if probe {
		tc.Probe()
	}
}

// plWrapClosed wraps c, closes the tracked conn and drops it.
//
//go:noinline
func plWrapClosed(t *testing.T, c net.Conn, opts ...trackedconn.Option) {
	require.NoError(t, trackedconn.Wrap(c, opts...).Close(), "Close")
}

// plNext returns the next event from events, running the garbage collector
// until it comes (leaks are found by the GC, and reported by the cleanup
// goroutine after it). It fails the test after 200 collections.
func plNext(t *testing.T, events <-chan plEvent) plEvent {
	t.Helper()
	for range 200 {
		select {
		case ev := <-events:
			return ev
		default:
		}
		runtime.GC()
		select {
		case ev := <-events:
			return ev
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.FailNow(t, "no event after 200 garbage collections")
	return plEvent{}
}

func plLeakTest(t *testing.T, probe bool) {
	c, s := tcpPair(t)
	var g trackedconn.Group
	hook, events := plHook()
	plDropConn(c, probe, trackedconn.WithLeakDetection(), trackedconn.WithGroup(&g),
		trackedconn.WithSide(trackedconn.SideClient), trackedconn.WithHook(hook))

	open := <-events
	require.Equal(t, trackedconn.EventOpen, open.e, "first event")
	assert.Equal(t, uint64(1), g.Stats().Active, "Active before the leak")

	leak := plNext(t, events)
	require.Equal(t, trackedconn.EventLeak, leak.e, "event after the conn was dropped")
	closed := plNext(t, events)
	require.Equal(t, trackedconn.EventClose, closed.e, "event after EventLeak")
	for _, ev := range []plEvent{leak, closed} {
		assert.Equal(t, trackedconn.CauseLeak, ev.s.Cause, "Cause with %v", ev.e)
		assert.True(t, ev.s.Closed, "Closed with %v", ev.e)
		assert.Equal(t, open.s.ID, ev.s.ID, "ID with %v", ev.e)
	}

	origin := leak.s.Origin.String()
	assert.Contains(t, origin, t.Name()[:strings.IndexByte(t.Name()+"/", '/')], "Origin names the test")
	first, _ := leak.s.Origin.Frames().Next()
	assert.True(t, strings.HasSuffix(first.Function, ".plDropConn"),
		"Origin starts at Wrap's caller, got %s", first.Function)

	require.NoError(t, s.SetReadDeadline(time.Now().Add(5*time.Second)), "peer SetReadDeadline")
	_, err := io.ReadAll(s)
	assert.NoError(t, err, "the peer reads EOF: the leaked conn's socket was closed")

	st := g.Stats()
	assert.Equal(t, trackedconn.Stats{Opened: 1, Closed: 1}, st, "group Stats after the leak")
	assert.Empty(t, g.Conns(), "the leaked conn left its group")
}

// A dialed conn dropped without Close is reclaimed: EventLeak then
// EventClose with Cause leak and where it was opened, its socket closed,
// its group left.
func TestLeakReclaimsDroppedConn(t *testing.T) {
	plLeakTest(t, false)
}

// The prober that Probe caches points at the socket, not at the *Conn: a
// probed conn is reclaimed too.
func TestLeakReclaimsProbedConn(t *testing.T) {
	plLeakTest(t, true)
}

// A conn closed in time is never reported.
func TestLeakClosedConnIsNotReported(t *testing.T) {
	c1, _ := tcpPair(t)
	c2, _ := tcpPair(t)
	hook, events := plHook()
	plWrapClosed(t, c1, trackedconn.WithLeakDetection(), trackedconn.WithHook(hook))
	require.Equal(t, trackedconn.EventOpen, (<-events).e, "first event of the closed conn")
	closed := <-events
	require.Equal(t, trackedconn.EventClose, closed.e, "second event of the closed conn")
	assert.Equal(t, trackedconn.CauseLocal, closed.s.Cause, "Cause of the closed conn")

	// A dropped conn, as a witness that the collector ran the cleanups of
	// everything dropped so far.
	witness, wevents := plHook()
	plDropConn(c2, false, trackedconn.WithLeakDetection(), trackedconn.WithHook(witness))
	require.Equal(t, trackedconn.EventOpen, (<-wevents).e, "first event of the witness")
	require.Equal(t, trackedconn.EventLeak, plNext(t, wevents).e, "the dropped witness is reclaimed")
	runtime.GC()
	runtime.GC()
	select {
	case ev := <-events:
		assert.Failf(t, "event after Close", "the closed conn reported %v", ev.e)
	case <-time.After(20 * time.Millisecond):
	}
}

// Origin is recorded with leak detection only, and starts at Wrap's caller.
func TestLeakOrigin(t *testing.T) {
	plain := trackedconn.Wrap(nopConn{})
	defer plain.Close()
	assert.Nil(t, plain.State().Origin, "Origin without leak detection")

	tc := trackedconn.Wrap(nopConn{}, trackedconn.WithLeakDetection())
	defer tc.Close()
	first, _ := tc.State().Origin.Frames().Next()
	assert.Equal(t, "github.com/connwatch/connwatch/trackedconn_test.TestLeakOrigin", first.Function,
		"first frame of Origin")
	assert.True(t, strings.HasPrefix(tc.State().Origin.String(), first.Function+"\n\t"),
		"Origin.String starts with Wrap's caller:\n%s", tc.State().Origin)
}

// plTick waits until the clock has moved past t, so that times taken
// before and after compare strictly.
func plTick(t time.Time) {
	for !time.Now().After(t) {
		runtime.Gosched()
	}
}

func plIDs(states []trackedconn.State) []uint64 {
	ids := make([]uint64, len(states))
	for i, s := range states {
		ids[i] = s.ID
	}
	return ids
}

// OlderThan and IdleFor filter the live conns, oldest first; a huge
// duration keeps none, a zero one all, and closed conns leave. Select on
// LastActive tells conns idle since an instant apart, with no sleep: the
// clock only has to tick between the reads.
func TestGroupIdleSinceMark(t *testing.T) {
	var g trackedconn.Group
	a := trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g))
	defer a.Close()
	plTick(a.State().OpenedAt)
	b := trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g))
	defer b.Close()
	plTick(b.State().OpenedAt)

	assert.Empty(t, g.OlderThan(time.Hour), "OlderThan(1h)")
	assert.Equal(t, []uint64{a.ID(), b.ID()}, plIDs(g.OlderThan(0)), "OlderThan(0), oldest first")

	mark := time.Now()
	plTick(mark)
	_, err := b.Write([]byte("x"))
	require.NoError(t, err, "Write")
	plTick(b.State().LastWriteAt)

	assert.Empty(t, g.IdleFor(time.Hour), "IdleFor(1h)")
	assert.Equal(t, []uint64{a.ID(), b.ID()}, plIDs(g.IdleFor(0)), "IdleFor(0)")
	idleSinceMark := g.Select(func(s trackedconn.State) bool { return s.LastActive().Before(mark) })
	assert.Equal(t, []uint64{a.ID()}, plIDs(idleSinceMark), "conns idle since the mark")
	assert.Equal(t, b.State().LastWriteAt, b.State().LastActive(), "LastActive after a Write")
	assert.Equal(t, a.State().OpenedAt, a.State().LastActive(), "LastActive of a conn that moved nothing")

	require.NoError(t, a.Close(), "Close")
	assert.Equal(t, []uint64{b.ID()}, plIDs(g.OlderThan(0)), "OlderThan(0) after a closed")
	assert.Equal(t, []uint64{b.ID()}, plIDs(g.IdleFor(0)), "IdleFor(0) after a closed")
}

func TestStateLastActive(t *testing.T) {
	t0 := time.Now()
	for _, tt := range []struct {
		name        string
		read, write time.Duration // after OpenedAt; -1: never
		want        time.Duration
	}{
		{"nothing moved", -1, -1, 0},
		{"read last", 2, 1, 2},
		{"write last", 1, 3, 3},
		{"read only", 5, -1, 5},
		{"write only", -1, 4, 4},
	} {
		at := func(d time.Duration) time.Time {
			if d < 0 {
				return time.Time{}
			}
			return t0.Add(d)
		}
		s := trackedconn.State{OpenedAt: t0, LastReadAt: at(tt.read), LastWriteAt: at(tt.write)}
		assert.Equal(t, t0.Add(tt.want), s.LastActive(), "LastActive() %s", tt.name)
	}
}

// BenchmarkWrapLeakDetection is the cost of leak detection per conn:
// impl=raw wraps (and closes) with no options, impl=tracked with
// WithLeakDetection (stack capture, Origin, runtime cleanup).
func BenchmarkWrapLeakDetection(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []trackedconn.Option
	}{
		{"impl=raw", nil},
		{"impl=tracked", []trackedconn.Option{trackedconn.Options(trackedconn.WithLeakDetection())}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := trackedconn.Wrap(nopConn{}, bc.opts...).Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
