package integration

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// pollEvery is how often a require.Eventually condition is checked.
const pollEvery = 20 * time.Millisecond

// assertCloseOrder checks the final States of the server's and the
// client's end of one conn, where either side may reach close(2) first:
// that side says local, and the other, which finds the FIN at Close, says
// peer.
func assertCloseOrder(t testing.TB, server, client trackedconn.State) {
	t.Helper()
	first, second, who := server, client, "server"
	if client.ClosedAt.Before(server.ClosedAt) {
		first, second, who = client, server, "client"
	}
	assert.Equal(t, trackedconn.CauseLocal, first.Cause, "%s closed first", who)
	if gap := second.ClosedAt.Sub(first.ClosedAt); second.Cause == trackedconn.CauseLocal {
		// A simultaneous close: the second side began its Close before the
		// first side's FIN, sent after its ClosedAt, reached it. Seen about
		// once in 40 runs, with a gap of microseconds.
		assert.Less(t, gap, simultaneousClose, "the side that closed second, %v after the %s, did not see its FIN", gap, who)
		return
	}
	assert.Equal(t, trackedconn.CausePeer, second.Cause, "the other side found the %s's FIN", who)
	assert.True(t, second.PeerClosed, "the side that closed second saw the FIN")
}

// simultaneousClose bounds the gap between two Closes that can both be
// local: the first side's FIN crosses loopback within microseconds of its
// close(2).
const simultaneousClose = 50 * time.Millisecond

// tracker is a dialer.Dialer that also keeps every conn it dialed, so a
// test can read the final State of conns the pool closed, and counts
// closes by cause.
type tracker struct {
	*dialer.Dialer
	Counters *hooks.Counters

	mu    sync.Mutex
	conns []*trackedconn.Conn
}

func newTracker(name string) *tracker {
	c := hooks.NewCounters()
	return &tracker{
		Dialer:   dialer.New(trackedconn.WithName(name), trackedconn.WithHook(c)),
		Counters: c,
	}
}

// DialContext dials as the Dialer does and keeps the conn.
func (tr *tracker) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := tr.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tr.mu.Lock()
	tr.conns = append(tr.conns, c.(*trackedconn.Conn))
	tr.mu.Unlock()
	return c, nil
}

// Dialed returns the conns dialed so far, oldest first.
func (tr *tracker) Dialed() []*trackedconn.Conn {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]*trackedconn.Conn(nil), tr.conns...)
}

// closedBy returns the Counters' closes by cause.
func (tr *tracker) closedBy() map[string]uint64 {
	return tr.Counters.Snapshot().Total.ClosedBy
}

// stateLog is a hook that keeps the final State of every closed conn.
type stateLog struct {
	mu     sync.Mutex
	closed []trackedconn.State
}

func (l *stateLog) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	if e != trackedconn.EventClose {
		return
	}
	l.mu.Lock()
	l.closed = append(l.closed, s)
	l.mu.Unlock()
}

func (l *stateLog) Closed() []trackedconn.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]trackedconn.State(nil), l.closed...)
}
