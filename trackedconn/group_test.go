package trackedconn_test

import (
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

func ids(states []trackedconn.State) []uint64 {
	out := make([]uint64, len(states))
	for i, s := range states {
		out[i] = s.ID
	}
	return out
}

func TestGroupZeroValue(t *testing.T) {
	t.Parallel()
	var g trackedconn.Group
	assert.Empty(t, g.Conns(), "Conns of a zero Group")
	assert.Equal(t, trackedconn.Stats{}, g.Stats(), "Stats of a zero Group")
	c := trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g))
	assert.Equal(t, []uint64{c.ID()}, ids(g.Conns()), "a zero Group takes conns")
	require.NoError(t, c.Close())
	assert.Empty(t, g.Conns())
}

func TestGroupConnsOldestFirst(t *testing.T) {
	t.Parallel()
	var g trackedconn.Group
	opt := trackedconn.WithGroup(&g)
	var cs []*trackedconn.Conn
	for range 5 {
		cs = append(cs, trackedconn.Wrap(nopConn{}, opt))
	}
	want := func(idx ...int) []uint64 {
		out := []uint64{}
		for _, i := range idx {
			out = append(out, cs[i].ID())
		}
		return out
	}
	require.Equal(t, want(0, 1, 2, 3, 4), ids(g.Conns()), "Conns must list live conns oldest first")

	require.NoError(t, cs[2].Close()) // middle
	assert.Equal(t, want(0, 1, 3, 4), ids(g.Conns()), "a closed conn must leave Conns")
	require.NoError(t, cs[0].Close()) // head
	require.NoError(t, cs[4].Close()) // tail
	assert.Equal(t, want(1, 3), ids(g.Conns()), "after closing the oldest and the newest")
	require.ErrorIs(t, cs[0].Close(), net.ErrClosed, "second Close")
	assert.Equal(t, want(1, 3), ids(g.Conns()), "a second Close must not touch the group")
	assert.Equal(t, trackedconn.Stats{Opened: 5, Active: 2, Closed: 3}, g.Stats(), "Stats after a second Close")

	cs = append(cs, trackedconn.Wrap(nopConn{}, opt))
	assert.Equal(t, want(1, 3, 5), ids(g.Conns()), "a new conn goes last")
	for _, i := range []int{1, 3, 5} {
		require.NoError(t, cs[i].Close())
	}
	assert.Empty(t, g.Conns(), "every conn closed")
	assert.Equal(t, trackedconn.Stats{Opened: 6, Active: 0, Closed: 6}, g.Stats())
}

func TestGroupStatsAfterTraffic(t *testing.T) {
	t.Parallel()
	var g trackedconn.Group
	opt := trackedconn.Options(trackedconn.WithGroup(&g), trackedconn.WithName("grouped"))
	c1, s1 := tcpPair(t)
	c2, s2 := tcpPair(t)
	a := trackedconn.Wrap(c1, opt)
	b := trackedconn.Wrap(c2, opt)
	other := trackedconn.Wrap(nopConn{}) // not in the group
	defer other.Close()

	_, err := a.Write(make([]byte, 100))
	require.NoError(t, err)
	_, err = b.Write(make([]byte, 30))
	require.NoError(t, err)
	_, err = io.ReadFull(s1, make([]byte, 100))
	require.NoError(t, err)
	_, err = io.ReadFull(s2, make([]byte, 30)) // unread bytes would make s2's Close an RST
	require.NoError(t, err)
	_, err = s2.Write(make([]byte, 7))
	require.NoError(t, err)
	_, err = io.ReadFull(b, make([]byte, 7))
	require.NoError(t, err)
	other.Write(make([]byte, 1000))

	assert.Equal(t, trackedconn.Stats{Opened: 2, Active: 2, Closed: 0, BytesRead: 7, BytesWritten: 130}, g.Stats(), "Stats while both are open")

	// The peer's FIN does not take a conn out of the group; Close does.
	require.NoError(t, s2.Close())
	_, err = b.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, []uint64{a.ID(), b.ID()}, ids(g.Conns()), "a peer-closed conn stays until Close")
	st := g.Conns()[1]
	assert.True(t, st.PeerClosed, "Conns shows the live State")
	assert.Equal(t, "grouped", st.Name)

	require.NoError(t, b.Close())
	assert.Equal(t, []uint64{a.ID()}, ids(g.Conns()), "Close takes the conn out")
	require.NoError(t, a.Close())
	assert.Equal(t, trackedconn.Stats{Opened: 2, Active: 0, Closed: 2, BytesRead: 7, BytesWritten: 130}, g.Stats(),
		"bytes stay counted after the conns closed")
}

func TestGroupConcurrent(t *testing.T) {
	t.Parallel()
	var g trackedconn.Group
	opt := trackedconn.WithGroup(&g)
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 10)
			for range each {
				c := trackedconn.Wrap(nopConn{}, opt)
				c.Write(buf)
				c.Read(buf[:3])
				g.Conns()
				g.Stats()
				c.Close()
			}
		}()
	}
	wg.Wait()
	n := uint64(workers * each)
	assert.Equal(t, trackedconn.Stats{Opened: n, Active: 0, Closed: n, BytesRead: 3 * n, BytesWritten: 10 * n}, g.Stats())
	assert.Empty(t, g.Conns())
}

func TestGroupSelect(t *testing.T) {
	t.Parallel()
	var g trackedconn.Group
	a := trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g), trackedconn.WithName("a"))
	b := trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g), trackedconn.WithName("b"))
	c := trackedconn.Wrap(nopConn{}, trackedconn.WithGroup(&g), trackedconn.WithName("a"))
	defer a.Close()
	defer b.Close()
	defer c.Close()
	byName := func(name string) func(trackedconn.State) bool {
		return func(s trackedconn.State) bool { return s.Name == name }
	}
	assert.Equal(t, []uint64{a.ID(), c.ID()}, ids(g.Select(byName("a"))), "Select keeps what keep returns true for, oldest first")
	assert.Equal(t, []uint64{b.ID()}, ids(g.Select(byName("b"))))
	assert.Empty(t, g.Select(byName("z")))
	assert.Equal(t, ids(g.Conns()), ids(g.Select(nil)), "Select(nil) is Conns")

	// keep runs without the group's lock: it may use the group.
	inner := g.Select(func(s trackedconn.State) bool { return len(g.Conns()) == 3 })
	assert.Len(t, inner, 3, "a keep func that calls Conns")
}

// TestGroupAgeFilters checks OlderThan and IdleFor on conns whose times are
// gap apart. The filters read the clock themselves, so each call is
// bracketed by clock reads and retried if it was too slow to be judged.
func TestGroupAgeFilters(t *testing.T) {
	t.Parallel()
	const gap = 20 * time.Millisecond
	var g trackedconn.Group
	opt := trackedconn.WithGroup(&g)
	old := trackedconn.Wrap(nopConn{}, opt)
	defer old.Close()
	time.Sleep(gap) // not synchronization: the two conns need different ages
	young := trackedconn.Wrap(nopConn{}, opt)
	defer young.Close()
	o1, o2 := old.State().OpenedAt, young.State().OpenedAt
	require.GreaterOrEqual(t, o2.Sub(o1), gap, "OpenedAt of the younger conn")

	// judge calls f(d) with d between the two conns' ages; it is valid
	// when f took less than half the gap.
	judge := func(name string, f func(time.Duration) []trackedconn.State, youngSince time.Time) {
		for range 100 {
			before := time.Now()
			d := before.Sub(youngSince) + gap/2
			got := f(d)
			if time.Since(before) >= gap/2 {
				continue // too slow to tell; try again
			}
			assert.Equal(t, []uint64{old.ID()}, ids(got), "%s(%v): only the old conn", name, d)
			return
		}
		t.Fatalf("%s was never fast enough to judge", name)
	}
	judge("OlderThan", g.OlderThan, o2)
	assert.Len(t, g.OlderThan(-time.Second), 2, "OlderThan of a negative duration")
	assert.Empty(t, g.OlderThan(time.Hour), "OlderThan(1h)")

	// The old conn now moves a byte; the young one never did, so it is idle
	// since it opened, and for less time than the old one was before.
	assert.Len(t, g.IdleFor(0), 2, "IdleFor(0)")
	time.Sleep(gap)
	_, err := old.Write([]byte("x"))
	require.NoError(t, err)
	lw := old.State().LastWriteAt
	require.False(t, lw.IsZero())
	assert.Equal(t, lw, old.State().LastActive(), "LastActive after a Write")
	assert.Equal(t, o2, young.State().LastActive(), "LastActive of an unused conn is OpenedAt")
	for range 100 {
		before := time.Now()
		d := before.Sub(lw) + gap/2 // the young conn has been idle for gap more
		got := g.IdleFor(d)
		if time.Since(before) >= gap/2 {
			continue
		}
		assert.Equal(t, []uint64{young.ID()}, ids(got), "IdleFor(%v): only the unused conn", d)
		return
	}
	t.Fatal("IdleFor was never fast enough to judge")
}

// TestGroupKeepsDroppedConnListed: without leak detection a conn dropped
// without Close stays in its group, its state readable, through garbage
// collections, and nothing closes it. (With leak detection the group holds
// only the conn's internal state, so that a dropped *Conn is collected:
// TestLeak* cover that.)
func TestGroupKeepsDroppedConnListed(t *testing.T) {
	t.Parallel()
	var g trackedconn.Group
	rec := new(recorder)
	inner := new(fakeConn)
	func() {
		c := trackedconn.Wrap(inner, trackedconn.WithGroup(&g), trackedconn.WithHook(rec), trackedconn.WithName("dropped"))
		_, _ = c.Write([]byte("abc"))
	}()
	for range 3 {
		runtime.GC()
	}
	st := g.Conns()
	require.Len(t, st, 1, "without leak detection the dropped conn stays listed")
	assert.Equal(t, "dropped", st[0].Name)
	assert.Equal(t, int64(3), st[0].BytesWritten, "its state is still readable")
	assert.Equal(t, int32(0), inner.closes.Load(), "without leak detection nothing closes the inner conn")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, rec.events(), "no event fires for a dropped conn without leak detection")
}
