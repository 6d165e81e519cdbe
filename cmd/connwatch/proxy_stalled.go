package main

import "github.com/connwatch/connwatch/trackedconn"

// stalled reports whether Probe finds c stalled.
func (p *proxy) stalled(c *trackedconn.Conn) bool {
	_ = c
	return false // TODO: p.probe(c) == trackedconn.LivenessStalled once trackedconn has it
}
