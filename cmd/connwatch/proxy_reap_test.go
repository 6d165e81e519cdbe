package main

import (
	"context"
	"io"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReapInterval(t *testing.T) {
	for _, tt := range []struct{ idle, stall, want time.Duration }{
		{0, 0, 0},
		{time.Minute, 0, time.Second},
		{0, 2 * time.Second, 500 * time.Millisecond},
		{2 * time.Second, 400 * time.Millisecond, 100 * time.Millisecond},
		{time.Millisecond, 0, 10 * time.Millisecond},
	} {
		assert.Equal(t, tt.want, reapInterval(tt.idle, tt.stall), "reapInterval(%v, %v)", tt.idle, tt.stall)
	}
}

// serveTestProxy serves p on a loopback port until the test ends, with no
// drain, and returns the address.
func serveTestProxy(t *testing.T, p *proxy) string {
	t.Helper()
	ln, err := p.listen("127.0.0.1:0")
	require.NoError(t, err, "listen")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		p.serve(ctx, ln, 0)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return ln.Addr().String()
}

// fakeClock is a clock that a test moves.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time       { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration)  { c.ns.Add(int64(d)) }
func newFakeClock(t time.Time) *fakeClock { c := &fakeClock{}; c.ns.Store(t.UnixNano()); return c }

// Regression (issue 10 item 7): -stall-timeout did not exist; a pair whose upstream stays
// stalled for the timeout must be cut, logged closed_first=proxy with upstream_cause
// stalled, and a stall that ends must start the count again.
func TestProxyReapsStalledPairs(t *testing.T) {
	up := startUpstream(t, echo)
	logs := &syncBuffer{}
	logger, err := newLogger(logs, "json")
	require.NoError(t, err, "logger")
	const stall = time.Minute
	p := newProxy(proxyConfig{to: up.addr(), dialTimeout: 5 * time.Second, maxConns: 100, stallTimeout: stall}, logger)
	clock := newFakeClock(time.Now())
	p.now = clock.Now
	var stalledID atomic.Uint64 // the conn that the fake Probe calls stalled
	p.probe = func(c *trackedconn.Conn) trackedconn.Liveness {
		if c.ID() == stalledID.Load() {
			return trackedconn.LivenessStalled
		}
		return c.Probe()
	}
	c := echoOnce(t, serveTestProxy(t, p))
	prs := p.snapshot()
	require.Len(t, prs, 1, "one live pair")
	upID := prs[0].upstreamConn().ID()

	assert.Zero(t, p.reap(), "nothing stalled: nothing cut")
	stalledID.Store(upID)
	assert.Zero(t, p.reap(), "stalled just now")
	clock.Add(stall / 2)
	stalledID.Store(0)
	assert.Zero(t, p.reap(), "the stall ended")
	stalledID.Store(upID)
	assert.Zero(t, p.reap(), "stalled again: the count starts again")
	clock.Add(stall - time.Nanosecond)
	assert.Zero(t, p.reap(), "stalled for less than -stall-timeout")
	clock.Add(time.Nanosecond)
	assert.Equal(t, 1, p.reap(), "stalled for -stall-timeout: cut")
	assert.Zero(t, p.reap(), "a pair is cut once")

	_, err = io.ReadAll(c)
	assert.ErrorIs(t, err, syscall.ECONNRESET, "the client reads a reset")
	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "proxy", line["closed_first"], "closed_first")
	assert.Equal(t, "stall-timeout", line["cut"], "cut")
	assert.Equal(t, "stalled", line["upstream_cause"], "upstream_cause")
	assert.Equal(t, "local", line["client_cause"], "client_cause")
}

// Regression (issue 10 item 7): the reaper must leave open pairs alone when no conn is
// stalled, however long that lasts (-idle-timeout, longer here, is tested in real time).
func TestProxyReapKeepsHealthyPairs(t *testing.T) {
	up := startUpstream(t, echo)
	logs := &syncBuffer{}
	logger, err := newLogger(logs, "json")
	require.NoError(t, err, "logger")
	p := newProxy(proxyConfig{to: up.addr(), dialTimeout: 5 * time.Second, maxConns: 100,
		stallTimeout: time.Second, idleTimeout: time.Hour}, logger)
	clock := newFakeClock(time.Now())
	p.now = clock.Now
	c := echoOnce(t, serveTestProxy(t, p))
	for range 5 {
		clock.Add(time.Minute)
		assert.Zero(t, p.reap(), "an open pair is not stalled")
	}
	_, err = c.Write([]byte("y"))
	require.NoError(t, err, "write")
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err, "the pair still works")
}
