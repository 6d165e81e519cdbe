package main

import (
	"errors"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// errClientReset is the cause of a dial canceled because the client reset.
var errClientReset = errors.New("connwatch proxy: the client reset while dialing")

// watchClient waits, without reading, for client c to reset while its
// upstream is dialed, and then calls cancel. stop ends the watch and
// returns once it has ended.
//
// It waits in the raw conn's Read, which wakes each time the socket turns
// readable, and asks Probe there: data the client sent early stays queued
// for the copy. A FIN does not cancel: a half-closed client may still read
// the answer. Where Probe cannot tell (LivenessUnknown) it does not watch.
func watchClient(c *trackedconn.Conn, cancel func(error)) (stop func()) {
	rc, err := c.SyscallConn()
	if err != nil {
		return func() {}
	}
	done := make(chan struct{})
	go watchClientReset(c, rc.Read, cancel, done)
	return func() {
		// A past deadline wakes the raw Read (and records nothing).
		c.SetReadDeadline(time.Unix(1, 0))
		<-done
		c.SetReadDeadline(time.Time{})
	}
}

// watchClientReset is watchClient's goroutine.
func watchClientReset(c *trackedconn.Conn, read func(func(uintptr) bool) error, cancel func(error), done chan<- struct{}) {
	defer close(done)
	reset := false
	_ = read(func(uintptr) bool {
		switch c.Probe() {
		case trackedconn.LivenessReset:
			reset = true
			return true
		case trackedconn.LivenessUnknown, trackedconn.LivenessClosed:
			return true
		}
		return c.State().Reset
	})
	if reset {
		cancel(errClientReset)
	}
}
