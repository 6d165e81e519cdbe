package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// resetAfter is an upstream that writes n bytes, then resets the conn.
func resetAfter(n int) func(u *upstream, c *net.TCPConn) {
	return func(u *upstream, c *net.TCPConn) {
		c.Write(make([]byte, n))
		c.SetLinger(0)
	}
}

// Regression (issue 14 item 12): an upstream reset after a large response reached the client as a clean EOF.
func TestProxyUpstreamResetReachesClient(t *testing.T) {
	up := startUpstream(t, resetAfter(5<<20))
	addrs, logs := startProxy(t, "-to", up.addr())

	c := dial(t, addrs.Listen)
	n, err := io.Copy(io.Discard, c)
	assert.ErrorIs(t, err, syscall.ECONNRESET, "the client reads a reset after %d bytes, not an EOF", n)

	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "upstream", line["closed_first"], "closed_first")
	assert.Equal(t, "reset", line["upstream_cause"], "upstream_cause")
	assert.NotContains(t, logs.String(), "pair half-close", "no half-close for a reset")
}

// Regression (issue 14 item 12): an upstream that reset at accept reached the client as a clean EOF.
func TestProxyUpstreamResetOnAccept(t *testing.T) {
	up := startUpstream(t, resetAfter(0))
	addrs, logs := startProxy(t, "-to", up.addr())

	assert.ErrorIs(t, dialAndRead(t, addrs.Listen), syscall.ECONNRESET, "the client reads a reset")
	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "upstream", line["closed_first"], "closed_first; log:\n%s", logs)
	assert.NotContains(t, logs.String(), "pair half-close", "no half-close for a reset")
}

// Regression (issue 14 item 12): a client reset reached the upstream as a FIN after the
// client's half-close.
func TestProxyClientResetReachesUpstream(t *testing.T) {
	got := make(chan error, 1)
	up := startUpstream(t, func(u *upstream, c *net.TCPConn) {
		_, err := io.Copy(io.Discard, c)
		got <- err
	})
	addrs, logs := startProxy(t, "-to", up.addr())

	c := dial(t, addrs.Listen)
	logLine(t, logs, "pair open", nil) // a reset while dialing cancels the dial
	_, err := c.Write([]byte("request"))
	require.NoError(t, err, "write")
	require.NoError(t, c.SetLinger(0), "SetLinger")
	require.NoError(t, c.Close(), "Close with RST")
	select {
	case err := <-got:
		assert.ErrorIs(t, err, syscall.ECONNRESET, "the upstream reads a reset, not an EOF")
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the upstream's read did not end")
	}
}

// Regression (issue 14 item 13): a client reset while the proxy wrote to it was taken for a
// half-close (9 of 49 runs): "pair half-close from=client" and a FIN to the upstream.
func TestProxyClientResetWhileWriting(t *testing.T) {
	up := startUpstream(t, func(u *upstream, c *net.TCPConn) {
		buf := make([]byte, 32<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	addrs, logs := startProxy(t, "-to", up.addr())

	const runs, parallel = 48, 4
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.Dial("tcp", addrs.Listen)
			if !assert.NoError(t, err, "dial the proxy") {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = io.ReadFull(c, make([]byte, 256<<10)) // the proxy is busy writing to us
			assert.NoError(t, err, "read the stream")
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
	}
	wg.Wait()
	for i := range runs {
		line := logLine(t, logs, "pair close", map[string]any{"pair": float64(i + 1)})
		assert.Equal(t, "client", line["closed_first"], "pair %d: closed_first", i+1)
		if !assert.Equal(t, "reset", line["client_cause"], "pair %d: client_cause; client_flags %v", i+1, line["client_flags"]) {
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, fmt.Sprintf(`"pair":%d,`, i+1)) {
					t.Log(l)
				}
			}
		}
	}
	assert.Zero(t, strings.Count(logs.String(), `"msg":"pair half-close"`), "half-closes logged: a reset is not a half-close")
}
