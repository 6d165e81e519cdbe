package main

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/connwatch/connwatch/internal/netns"
	"github.com/connwatch/connwatch/internal/netns/netnstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression (issue 10 item 7): a pair whose upstream vanished (no FIN, no RST) stayed
// open; with -stall-timeout the reaper cuts it once the upstream conn has been stalled
// that long, and logs the upstream's cause stalled. The upstream vanishes in a private
// network namespace whose loopback drops every packet.
func TestProxyReapsVanishedUpstream(t *testing.T) {
	if !netnstest.RunTest(t) {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "upstream: listen")
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
		io.Copy(io.Discard, c) // until the test closes c
	}()
	rp := runProxyTest(t, "-to", ln.Addr().String(), "-stall-timeout", "1s")

	c := dial(t, rp.addrs.Listen)
	uc := <-accepted
	require.NotNil(t, uc, "upstream: accept")
	defer uc.Close()
	logLine(t, rp.logs, "pair open", nil)

	// The client streams through the proxy, so the proxy's upstream conn
	// has data in flight when the loopback starts dropping packets.
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		buf := make([]byte, 64<<10)
		c.SetWriteDeadline(time.Now().Add(time.Minute))
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	defer func() {
		c.Close() // ends the blocked Write
		<-wrote
	}()
	time.Sleep(50 * time.Millisecond) // let bytes flow; the stall comes after, whatever the delay
	require.NoError(t, netns.Blackhole(true), "blackhole the loopback")
	defer func() { assert.NoError(t, netns.Blackhole(false), "restore the loopback") }()

	line := logLine(t, rp.logs, "pair close", nil)
	assert.Equal(t, "proxy", line["closed_first"], "closed_first")
	assert.Equal(t, "stall-timeout", line["cut"], "cut")
	assert.Equal(t, "stalled", line["upstream_cause"], "upstream_cause")
	assert.GreaterOrEqual(t, line["duration"], float64(time.Second), "cut after -stall-timeout")
}
