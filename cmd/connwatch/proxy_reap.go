package main

import (
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// reapInterval is how often the reaper looks at the pairs: a quarter of
// the shortest timeout, between 10 ms and 1 s. 0 when both are off.
func reapInterval(idle, stall time.Duration) time.Duration {
	d := idle
	if d == 0 || (stall > 0 && stall < d) {
		d = stall
	}
	if d == 0 {
		return 0
	}
	return min(max(d/4, 10*time.Millisecond), time.Second)
}

// reapLoop runs reap on a ticker until stop is closed, then closes done.
// It returns at once when -idle-timeout and -stall-timeout are both off.
func (p *proxy) reapLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	every := reapInterval(p.cfg.idleTimeout, p.cfg.stallTimeout)
	if every == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.reap()
		}
	}
}

// reap cuts the open pairs that moved no byte for -idle-timeout, and those
// with a conn that Probe has found stalled at every look for
// -stall-timeout. It returns how many pairs it cut. Pairs still dialing
// are left to -dial-timeout.
func (p *proxy) reap() int {
	p.reapMu.Lock()
	defer p.reapMu.Unlock()
	now := p.now()
	n := 0
	for _, pr := range p.snapshot() {
		up := pr.upstreamConn()
		if up == nil || pr.end.Load() != endLive {
			continue
		}
		conns := [2]*trackedconn.Conn{pr.client, up}
		why, stalled := endLive, [2]bool{}
		if d := p.cfg.stallTimeout; d > 0 {
			for i, c := range conns {
				if p.probe(c) != trackedconn.LivenessStalled {
					pr.stalledSince[i] = time.Time{}
					continue
				}
				if pr.stalledSince[i].IsZero() {
					pr.stalledSince[i] = now
				}
				if now.Sub(pr.stalledSince[i]) >= d {
					why, stalled[i] = endStall, true
				}
			}
		}
		if d := p.cfg.idleTimeout; d > 0 && why == endLive {
			if now.Sub(lastActive(conns, now)) >= d {
				why = endIdle
			}
		}
		if why == endLive {
			continue
		}
		// The log says stalled for the conns that were (see pair.cause).
		pr.stalledCut[whoClient].Store(stalled[0])
		pr.stalledCut[whoUpstream].Store(stalled[1])
		if pr.cut(why) {
			n++
		} else {
			pr.stalledCut[whoClient].Store(false)
			pr.stalledCut[whoUpstream].Store(false)
		}
	}
	return n
}

// lastActive returns when a byte last moved on either conn: what the
// conns counted, or what the kernel saw if later (a splice in progress
// counts its bytes only every few MiB).
func lastActive(conns [2]*trackedconn.Conn, now time.Time) time.Time {
	var last time.Time
	for _, c := range conns {
		if t := c.State().LastActive(); t.After(last) {
			last = t
		}
		if t, ok := kernelLastData(c, now); ok && t.After(last) {
			last = t
		}
	}
	return last
}
