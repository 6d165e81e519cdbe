package main

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// Who ended a pair first.
const (
	whoNone int32 = iota
	whoClient
	whoUpstream
	whoProxy
)

var whoNames = [...]string{"none", "client", "upstream", "proxy"}

// How a pair ended: endLive until then, endDone when both directions ended
// on their own, else the reason the proxy cut it.
const (
	endLive int32 = iota
	endDone
	endDrain
	endIdle
	endStall
)

var endNames = [...]string{"live", "done", "drain-timeout", "idle-timeout", "stall-timeout"}

// errPairCut is the dial error of a pair that the proxy cut while it dialed.
var errPairCut = errors.New("connwatch proxy: pair cut while dialing")

// pair is a client conn and the upstream conn the proxy dialed for it.
type pair struct {
	id         uint64
	start      time.Time
	client     *trackedconn.Conn
	upstream   atomic.Pointer[trackedconn.Conn] // nil while dialing
	dialCtx    context.Context                  // the dial's parent; canceled by a cut or a client reset
	cancelDial context.CancelCauseFunc
	first      atomic.Int32   // who ended first: whoClient, whoUpstream or whoProxy
	end        atomic.Int32   // endLive, endDone or why the proxy cut the pair
	shut       [3]atomic.Bool // by side (whoClient, whoUpstream): CloseWrite called or about to be
	aborted    atomic.Bool    // abort has begun: the conns are being reset
	fin        [3]atomic.Bool // by side: its copy ended with a FIN, forwarded
	resetEOF   [3]atomic.Bool // by side: its copy ended with an EOF that wasReset found to be a reset
	stalledCut [3]atomic.Bool // by side: the reaper cut the pair for this conn's stall

	// stalledSince is when the reaper first saw each conn (client,
	// upstream) stalled, zero if it was not at its latest look. Only reap
	// uses it, under the proxy's reapMu.
	stalledSince [2]time.Time
}

func newPair(parent context.Context, id uint64, c *trackedconn.Conn) *pair {
	ctx, cancel := context.WithCancelCause(parent)
	return &pair{id: id, start: time.Now(), client: c, dialCtx: ctx, cancelDial: cancel}
}

// setFirst records who ended the pair first, unless that is known already.
func (pr *pair) setFirst(who int32) { pr.first.CompareAndSwap(whoNone, who) }

// cause returns the Cause of side's closed conn whose State is s: the
// conn's own, with two corrections. A peer Cause is a reset when the
// proxy's copy from that side never ended with a FIN and the conn was
// reset: a socket reports a reset to one call only, and the EOF that the
// other calls then see passes for the peer's FIN (see wasReset). And a
// conn that the reaper closed for its stall is stalled, even if the path
// came back just before the Close.
func (pr *pair) cause(side int32, s trackedconn.State) trackedconn.Cause {
	switch {
	case s.Cause == trackedconn.CausePeer && !pr.fin[side].Load() && (s.Reset || pr.resetEOF[side].Load()):
		return trackedconn.CauseReset
	case s.Cause == trackedconn.CauseLocal && pr.stalledCut[side].Load():
		return trackedconn.CauseStalled
	}
	return s.Cause
}

// upstreamConn returns the upstream conn, nil while dialing.
func (pr *pair) upstreamConn() *trackedconn.Conn { return pr.upstream.Load() }

// setUpstream sets the dialed upstream conn. It reports false, and the
// caller must close up, when the pair was cut meanwhile.
func (pr *pair) setUpstream(up *trackedconn.Conn) bool {
	pr.upstream.Store(up)
	// A cut stores end before it loads upstream, and this stores upstream
	// before it loads end; the atomics are sequentially consistent, so
	// either the cut saw up, or this load sees the cut.
	if pr.end.Load() >= endDrain {
		pr.abort()
		return false
	}
	return true
}

// cut ends a live pair for reason why (endDrain, endIdle, endStall): it
// cancels the dial or resets both conns. It reports whether this call cut
// the pair, false if the pair had already ended or been cut.
func (pr *pair) cut(why int32) bool {
	if !pr.end.CompareAndSwap(endLive, why) {
		return false
	}
	pr.setFirst(whoProxy)
	pr.cancelDial(errPairCut)
	pr.abort()
	return true
}

// abort resets both conns of the pair (SO_LINGER 0, then Close): the peers
// read a reset, never a FIN that would pass for the end of the stream.
func (pr *pair) abort() {
	pr.aborted.Store(true)
	up := pr.upstreamConn()
	setLinger0(pr.client)
	if up != nil {
		setLinger0(up)
	}
	pr.client.Close()
	if up != nil {
		up.Close()
	}
}

// linger is the option of conns whose Close can send a reset (TCP).
type linger interface{ SetLinger(sec int) error }

// setLinger0 makes c's Close send a reset instead of a FIN, where c's inner
// conn supports it. A conn that is already closed is left as it is.
func setLinger0(c *trackedconn.Conn) {
	if l, ok := c.NetConn().(linger); ok {
		_ = l.SetLinger(0) // fails only on a closed conn
	}
}

// abortConn resets and closes c.
func abortConn(c *trackedconn.Conn) {
	setLinger0(c)
	c.Close()
}
