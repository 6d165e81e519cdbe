package hooks_test

import (
	"encoding/json"
	"expvar"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

func TestCounters(t *testing.T) {
	c := hooks.NewCounters()
	hook := trackedconn.WithHook(c)

	a1, peer := pipe(t, hook, trackedconn.WithName("a"))
	peerClose(t, a1, peer)
	require.NoError(t, a1.Close())
	a2, _ := pipe(t, hook, trackedconn.WithName("a"))
	require.NoError(t, a2.Close())
	pipe(t, hook, trackedconn.WithName("b")) // left open until cleanup
	u, _ := pipe(t, hook)
	require.NoError(t, u.Close())
	// Events net.Pipe cannot produce.
	c.ConnEvent(trackedconn.EventReset, trackedconn.State{Name: "b"})
	c.ConnEvent(trackedconn.EventReadShut, trackedconn.State{})
	c.ConnEvent(trackedconn.EventWriteShut, trackedconn.State{})
	c.ConnEvent(trackedconn.EventLeak, trackedconn.State{Name: "b"})
	c.ConnEvent(trackedconn.EventOpen, trackedconn.State{Name: "c"})
	c.ConnEvent(trackedconn.EventClose, trackedconn.State{Name: "c", Closed: true, Cause: trackedconn.CauseStalled})

	got := c.Snapshot()
	assert.Equal(t, hooks.ConnCounts{
		Opened: 5, Active: 1, Closed: 4,
		ClosedBy:   map[string]uint64{"peer": 1, "local": 2, "stalled": 1},
		PeerClosed: 1, Resets: 1, ReadShuts: 1, WriteShuts: 1, Leaks: 1,
	}, got.Total, "Total")
	assert.Equal(t, map[string]hooks.ConnCounts{
		"a": {Opened: 2, Closed: 2, ClosedBy: map[string]uint64{"peer": 1, "local": 1}, PeerClosed: 1},
		"b": {Opened: 1, Active: 1, ClosedBy: map[string]uint64{}, Resets: 1, Leaks: 1},
		"c": {Opened: 1, Closed: 1, ClosedBy: map[string]uint64{"stalled": 1}},
	}, got.ByName, "ByName: named conns only")
}

func TestCountersZeroValue(t *testing.T) {
	var c hooks.Counters
	assert.Equal(t, hooks.CountersSnapshot{
		Total:  hooks.ConnCounts{ClosedBy: map[string]uint64{}},
		ByName: map[string]hooks.ConnCounts{},
	}, c.Snapshot())
	assert.JSONEq(t, `{"total":{"opened":0,"active":0,"closed":0,"closed_by":{},"peer_closed":0,"resets":0,"read_shuts":0,"write_shuts":0,"leaks":0},"by_name":{}}`, c.String())
}

// A Counters attached after a conn opened must not report a huge Active.
func TestCountersActiveNoUnderflow(t *testing.T) {
	c := hooks.NewCounters()
	c.ConnEvent(trackedconn.EventClose, trackedconn.State{Cause: trackedconn.CauseLocal})
	assert.Equal(t, uint64(0), c.Snapshot().Total.Active)
}

var expvarRuns atomic.Int64

func TestCountersExpvar(t *testing.T) {
	c := hooks.NewCounters()
	// expvar names are process-global: one name per run, for -count > 1.
	name := fmt.Sprintf("connwatch_hooks_test_conns_%d", expvarRuns.Add(1))
	expvar.Publish(name, c)
	conn, _ := pipe(t, trackedconn.WithHook(c), trackedconn.WithName("api"))
	require.NoError(t, conn.Close())

	var got hooks.CountersSnapshot
	require.NoError(t, json.Unmarshal([]byte(expvar.Get(name).String()), &got), "expvar value is JSON")
	assert.Equal(t, c.Snapshot(), got, "expvar value decodes to the Snapshot")
	assert.Equal(t, uint64(1), got.ByName["api"].ClosedBy["local"])
}

func TestCountersNoAllocs(t *testing.T) {
	c := hooks.NewCounters()
	st := trackedconn.State{Name: "api", Cause: trackedconn.CauseLocal}
	c.ConnEvent(trackedconn.EventOpen, st) // first use of the name
	if n := testing.AllocsPerRun(100, func() {
		c.ConnEvent(trackedconn.EventOpen, st)
		c.ConnEvent(trackedconn.EventClose, st)
	}); n != 0 {
		t.Errorf("ConnEvent for a known name: %v allocs, want 0", n)
	}
}

// Names added from many goroutines while snapshots are taken; run with
// -race.
func TestCountersConcurrent(t *testing.T) {
	c := hooks.NewCounters()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				st := trackedconn.State{Name: fmt.Sprint("n", i%10), Cause: trackedconn.Cause(1 + g%6)}
				c.ConnEvent(trackedconn.EventOpen, st)
				c.ConnEvent(trackedconn.EventClose, st)
				if i%10 == 0 {
					_ = c.String()
				}
			}
		})
	}
	wg.Wait()
	s := c.Snapshot()
	assert.Equal(t, uint64(800), s.Total.Opened)
	assert.Equal(t, uint64(800), s.Total.Closed)
	assert.Len(t, s.ByName, 10)
	for name, n := range s.ByName {
		assert.Equal(t, uint64(80), n.Closed, "Closed of %s", name)
	}
}
