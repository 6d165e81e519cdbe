package main

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/conntest/fullqueue"
)

// slowUpstream returns the address of a loopback listener whose accept
// queue is full, so that a dial to it waits (its SYNs are dropped) until
// the dial gives up.
func slowUpstream(t *testing.T) string {
	t.Helper()
	addr := fullqueue.Addr(t)

	// Check that the next dial does wait.
	_, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	var ne net.Error
	if !assert.ErrorAs(t, err, &ne) || !ne.Timeout() {
		t.Skipf("a full accept queue does not hold dials here: %v", err)
	}
	return addr
}

// Regression (issue 14 item 17): a client that reset during a slow dial left the dial
// running until -dial-timeout, and the pair logged closed_first=proxy.
func TestProxyClientResetsWhileDialing(t *testing.T) {
	to := slowUpstream(t)
	rp := runProxyTest(t, "-to", to, "-dial-timeout", "2m")

	c := dial(t, rp.addrs.Listen)
	_, err := c.Write([]byte("early request"))
	require.NoError(t, err, "write before the upstream answers")
	time.Sleep(100 * time.Millisecond) // let the dial begin; it waits for 2 minutes either way
	require.NoError(t, c.SetLinger(0), "SetLinger")
	require.NoError(t, c.Close(), "Close with RST")

	line := logLine(t, rp.logs, "pair close", nil) // within 10 s, far before the 2 m dial timeout
	assert.Equal(t, "client", line["closed_first"], "closed_first")
	assert.Equal(t, "reset", line["client_cause"], "client_cause")
	logLine(t, rp.logs, "pair dial failed", nil)
}

// Regression (issue 14 item 17): a client that closed during a slow dial was logged with
// closed_first=proxy when the dial then timed out.
func TestProxyClientClosesWhileDialing(t *testing.T) {
	to := slowUpstream(t)
	rp := runProxyTest(t, "-to", to, "-dial-timeout", "1500ms")

	c := dial(t, rp.addrs.Listen)
	require.NoError(t, c.Close(), "Close (FIN)")

	line := logLine(t, rp.logs, "pair close", nil)
	assert.Equal(t, "client", line["closed_first"], "closed_first")
	assert.Contains(t, line["client_flags"], "peer-closed", "client_flags")
}
