package hooks_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// pipe returns a tracked conn over one end of a net.Pipe, and the other end.
// Both are closed at the end of the test.
func pipe(t testing.TB, opts ...trackedconn.Option) (*trackedconn.Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	c := trackedconn.Wrap(a, opts...)
	t.Cleanup(func() {
		_ = c.Close()
		_ = b.Close()
	})
	return c, b
}

// peerClose closes the peer end and reads its EOF on c, so that c records
// PeerClosed and ends with CausePeer.
func peerClose(t testing.TB, c *trackedconn.Conn, peer net.Conn) {
	t.Helper()
	require.NoError(t, peer.Close())
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "Read after the peer closed")
}

func TestRegistryOrder(t *testing.T) {
	reg := hooks.New()
	var got []int
	for i := 1; i <= 3; i++ {
		reg.OnClose(func(trackedconn.State) { got = append(got, i) })
	}
	c, _ := pipe(t, trackedconn.WithHook(reg))
	require.NoError(t, c.Close())
	assert.Equal(t, []int{1, 2, 3}, got, "callbacks run in registration order")
}

func TestRegistryEvents(t *testing.T) {
	reg := hooks.New()
	var got []trackedconn.Event
	for _, e := range []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventPeerClosed, trackedconn.EventReset, trackedconn.EventClose} {
		reg.On(e, func(s trackedconn.State) { got = append(got, e) })
	}
	c, peer := pipe(t, trackedconn.WithHook(reg))
	peerClose(t, c, peer)
	require.NoError(t, c.Close())
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventPeerClosed, trackedconn.EventClose}, got)
}

func TestRegistryRemove(t *testing.T) {
	reg := hooks.New()
	var calls []string
	fn := func(name string) func(trackedconn.State) {
		return func(trackedconn.State) { calls = append(calls, name) }
	}
	removeA := reg.OnClose(fn("a"))
	reg.OnClose(fn("b"))
	removeC := reg.OnClose(fn("c"))

	removeA()
	removeA() // idempotent: must not remove another registration
	removeC()
	c, _ := pipe(t, trackedconn.WithHook(reg))
	require.NoError(t, c.Close())
	assert.Equal(t, []string{"b"}, calls, "only the registration left runs")
}

func TestRegistrySameFuncTwice(t *testing.T) {
	reg := hooks.New()
	n := 0
	fn := func(trackedconn.State) { n++ }
	remove1 := reg.OnOpen(fn)
	reg.OnOpen(fn)
	pipe(t, trackedconn.WithHook(reg))
	assert.Equal(t, 2, n, "a func registered twice runs twice")
	remove1()
	pipe(t, trackedconn.WithHook(reg))
	assert.Equal(t, 3, n, "removing one registration leaves the other")
}

func TestRegistryAdd(t *testing.T) {
	reg := hooks.New()
	counters := hooks.NewCounters()
	remove := reg.Add(counters)
	c, peer := pipe(t, trackedconn.WithHook(reg))
	peerClose(t, c, peer)
	require.NoError(t, c.Close())
	remove()
	c2, _ := pipe(t, trackedconn.WithHook(reg))
	require.NoError(t, c2.Close())

	got := counters.Snapshot().Total
	assert.Equal(t, uint64(1), got.Opened, "Opened")
	assert.Equal(t, uint64(1), got.PeerClosed, "PeerClosed")
	assert.Equal(t, map[string]uint64{"peer": 1}, got.ClosedBy, "ClosedBy")
}

func TestRegistryZeroValue(t *testing.T) {
	var reg hooks.Registry
	reg.ConnEvent(trackedconn.EventOpen, trackedconn.State{}) // nothing registered: no-op
	opened := 0
	reg.OnOpen(func(trackedconn.State) { opened++ })
	pipe(t, trackedconn.WithHook(&reg))
	assert.Equal(t, 1, opened, "a zero Registry works")
	reg.ConnEvent(trackedconn.Event(200), trackedconn.State{}) // unknown event: ignored
}

func TestRegistryPanics(t *testing.T) {
	reg := hooks.New()
	assert.PanicsWithValue(t, "hooks: On with a nil func", func() { reg.OnOpen(nil) })
	assert.Panics(t, func() { reg.On(trackedconn.Event(200), func(trackedconn.State) {}) }, "On with an invalid event")
	assert.PanicsWithValue(t, "hooks: Add(nil)", func() { reg.Add(nil) })
}

type panicReport struct {
	e  trackedconn.Event
	id uint64
	v  any
}

// A panicking callback used to be able to stop the callbacks after it.
func TestRegistryCallbackPanic(t *testing.T) {
	reg := hooks.New()
	var reports []panicReport
	reg.OnPanic(func(e trackedconn.Event, s trackedconn.State, v any) {
		reports = append(reports, panicReport{e, s.ID, v})
	})
	var ran []string
	reg.OnOpen(func(trackedconn.State) { panic("open boom") })
	reg.OnOpen(func(trackedconn.State) { ran = append(ran, "open after panic") })
	reg.OnClose(func(trackedconn.State) { ran = append(ran, "close before panic") })
	reg.OnClose(func(trackedconn.State) { panic("close boom") })
	reg.OnClose(func(trackedconn.State) { ran = append(ran, "close after panic") })
	after := 0
	c, _ := pipe(t, trackedconn.WithHook(reg), trackedconn.WithHook(trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		if e == trackedconn.EventClose {
			after++
		}
	})))

	require.NoError(t, c.Close(), "Close with a panicking hook")
	assert.True(t, c.State().Closed, "conn closed")
	assert.Equal(t, 1, after, "the hook after the Registry ran")
	assert.Equal(t, []string{"open after panic", "close before panic", "close after panic"}, ran)
	assert.Equal(t, []panicReport{
		{trackedconn.EventOpen, c.ID(), "open boom"},
		{trackedconn.EventClose, c.ID(), "close boom"},
	}, reports)
}

func TestRegistryPanicHandlerPanics(t *testing.T) {
	reg := hooks.New()
	reg.OnPanic(func(trackedconn.Event, trackedconn.State, any) { panic("handler boom") })
	reg.OnClose(func(trackedconn.State) { panic("boom") })
	ran := false
	reg.OnClose(func(trackedconn.State) { ran = true })
	c, _ := pipe(t, trackedconn.WithHook(reg))
	require.NoError(t, c.Close())
	assert.True(t, ran, "callbacks after a panic whose handler panics still run")
}

// captureHandler records slog records.
type captureHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func attrs(r slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.Resolve()
		return true
	})
	return m
}

// setDefaultLogger replaces slog's default logger for the test.
// Incompatible with t.Parallel.
func setDefaultLogger(t *testing.T, h slog.Handler) {
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	t.Cleanup(func() { slog.SetDefault(old) })
}

func TestRegistryPanicDefaultReport(t *testing.T) {
	h := &captureHandler{}
	setDefaultLogger(t, h)
	reg := hooks.New()
	reg.OnPanic(func(trackedconn.Event, trackedconn.State, any) { t.Error("replaced handler called") })
	reg.OnPanic(nil) // back to the default
	reg.OnClose(func(trackedconn.State) { panic("boom") })
	c, _ := pipe(t, trackedconn.WithHook(reg))
	require.NoError(t, c.Close())

	require.Len(t, h.records, 1, "one log record for one panic")
	r := h.records[0]
	assert.Equal(t, slog.LevelError, r.Level)
	assert.Equal(t, "hooks: callback panicked", r.Message)
	a := attrs(r)
	assert.Equal(t, "close", a["event"].String())
	assert.Equal(t, c.ID(), a["conn"].Uint64())
	assert.Equal(t, "boom", a["panic"].Any())
}

func TestRegistryNoAllocs(t *testing.T) {
	reg := hooks.New()
	st := trackedconn.State{ID: 1}
	if n := testing.AllocsPerRun(100, func() { reg.ConnEvent(trackedconn.EventClose, st) }); n != 0 {
		t.Errorf("ConnEvent with nothing registered: %v allocs, want 0", n)
	}
	remove := reg.OnClose(func(trackedconn.State) {})
	if n := testing.AllocsPerRun(100, func() { reg.ConnEvent(trackedconn.EventClose, st) }); n != 0 {
		t.Errorf("ConnEvent with one callback: %v allocs, want 0", n)
	}
	remove()
	if n := testing.AllocsPerRun(100, func() { reg.ConnEvent(trackedconn.EventClose, st) }); n != 0 {
		t.Errorf("ConnEvent after remove: %v allocs, want 0", n)
	}
}

// Registration and removal race with events from many goroutines; run with
// -race.
func TestRegistryConcurrent(t *testing.T) {
	const (
		churners = 8
		openers  = 8
		rounds   = 200
	)
	reg := hooks.New()
	var opened, closed atomic.Int64
	reg.OnOpen(func(trackedconn.State) { opened.Add(1) })
	reg.OnClose(func(trackedconn.State) { closed.Add(1) })

	var transient atomic.Int64
	reg.OnPanic(func(trackedconn.Event, trackedconn.State, any) { transient.Add(1) })
	var wg sync.WaitGroup
	for range churners {
		wg.Go(func() {
			for i := range rounds {
				var remove func()
				switch i % 3 {
				case 0:
					remove = reg.OnOpen(func(trackedconn.State) { transient.Add(1) })
				case 1:
					remove = reg.OnClose(func(trackedconn.State) { panic("transient") })
				default:
					remove = reg.Add(trackedconn.HookFunc(func(trackedconn.Event, trackedconn.State) { transient.Add(1) }))
				}
				remove()
				remove()
			}
		})
	}
	for range openers {
		wg.Go(func() {
			for range rounds {
				a, b := net.Pipe()
				c := trackedconn.Wrap(a, trackedconn.WithHook(reg))
				_ = c.Close()
				_ = b.Close()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(openers*rounds), opened.Load(), "permanent OnOpen calls")
	assert.Equal(t, int64(openers*rounds), closed.Load(), "permanent OnClose calls")
	if n := testing.AllocsPerRun(10, func() { reg.ConnEvent(trackedconn.EventReset, trackedconn.State{}) }); n != 0 {
		t.Errorf("ConnEvent after churn: %v allocs, want 0", n)
	}
}

func BenchmarkRegistryDispatch(b *testing.B) {
	st := trackedconn.State{ID: 1}
	b.Run("registered=0", func(b *testing.B) {
		reg := hooks.New()
		for b.Loop() {
			reg.ConnEvent(trackedconn.EventClose, st)
		}
	})
	b.Run("registered=1", func(b *testing.B) {
		reg := hooks.New()
		reg.OnClose(func(trackedconn.State) {})
		for b.Loop() {
			reg.ConnEvent(trackedconn.EventClose, st)
		}
	})
}
