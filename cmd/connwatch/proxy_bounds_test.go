package main

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runningProxy is a proxy run in-process by a test.
type runningProxy struct {
	addrs  proxyAddrs
	logs   *syncBuffer
	cancel context.CancelFunc // the first SIGINT
	exited chan int
}

// runProxyTest runs the proxy with args (plus -listen and -log-format json)
// and stops it when the test ends, if the test did not.
func runProxyTest(t *testing.T, args ...string) *runningProxy {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rp := &runningProxy{logs: &syncBuffer{}, cancel: cancel, exited: make(chan int, 1)}
	ready := make(chan proxyAddrs, 1)
	args = append([]string{"-listen", "127.0.0.1:0", "-log-format", "json"}, args...)
	go func() {
		rp.exited <- runProxy(ctx, args, io.Discard, rp.logs, func(a proxyAddrs) { ready <- a })
	}()
	select {
	case rp.addrs = <-ready:
	case code := <-rp.exited:
		cancel()
		require.FailNow(t, "proxy exited at start", "code %d, log:\n%s", code, rp.logs)
	}
	t.Cleanup(func() { rp.stop(t) })
	return rp
}

// stop cancels the proxy's context and waits for it to return.
func (rp *runningProxy) stop(t *testing.T) {
	t.Helper()
	rp.cancel()
	if rp.exited == nil {
		return
	}
	select {
	case code := <-rp.exited:
		assert.Equal(t, 0, code, "proxy exit code")
		rp.exited = nil
	case <-time.After(20 * time.Second):
		t.Errorf("proxy did not stop; log:\n%s", rp.logs)
	}
}

// echoOnce dials the proxy, checks that one byte comes back, and returns
// the open conn.
func echoOnce(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c := dial(t, addr)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err, "write")
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err, "read the echo")
	return c
}

// Regression (issue 14 item 14): there was no bound on live pairs; beyond -max-conns a
// client must be reset at once and counted, and the others still served.
func TestProxyMaxConns(t *testing.T) {
	up := startUpstream(t, echo)
	rp := runProxyTest(t, "-to", up.addr(), "-max-conns", "2", "-drain-timeout", "0s")
	logLine(t, rp.logs, "proxy limits", map[string]any{"max_conns": float64(2)})

	a := echoOnce(t, rp.addrs.Listen)
	echoOnce(t, rp.addrs.Listen)
	assert.ErrorIs(t, dialAndRead(t, rp.addrs.Listen), syscall.ECONNRESET, "a third client is reset")
	logLine(t, rp.logs, "proxy at -max-conns; resetting new clients", map[string]any{"level": "WARN", "rejected": float64(1)})

	require.NoError(t, a.Close(), "close the first client")
	logLine(t, rp.logs, "pair close", map[string]any{"pair": float64(1)})
	echoOnce(t, rp.addrs.Listen) // served again below the bound
	logLine(t, rp.logs, "proxy below -max-conns again", map[string]any{"rejected": float64(1)})

	rp.stop(t)
	line := logLine(t, rp.logs, "proxy stopped", nil)
	assert.Equal(t, float64(1), line["rejected"], "rejected clients")
	assert.Equal(t, float64(3), line["pairs"], "pairs")
}

// Regression (issue 14 item 14): the descriptor budget was not logged at start, the
// default bound ignored it (6,000 clients gave thousands of EMFILE failures with 20,000
// descriptors), and a -max-conns beyond it went unnoticed.
func TestProxyLimitsLogged(t *testing.T) {
	limit, ok := fdLimit()
	if !ok {
		t.Skip("no descriptor limit on this platform")
	}
	up := startUpstream(t, echo)
	rp := runProxyTest(t, "-to", up.addr())
	line := logLine(t, rp.logs, "proxy limits", nil)
	fit := (limit - fdReserve) / 6
	assert.Equal(t, float64(min(10000, fit)), line["max_conns"], "default -max-conns: 10000, or what fits")
	assert.Equal(t, float64(limit), line["fd_limit"], "fd_limit")
	assert.Equal(t, float64(6), line["fds_per_pair"], "fds_per_pair")
	assert.Equal(t, float64(fit), line["pairs_fit"], "pairs_fit")
	assert.NotContains(t, rp.logs.String(), "exceeds what the descriptor limit allows", "no warning by default")

	over := strconv.FormatUint(limit, 10) // far more pairs than descriptors allow
	rp2 := runProxyTest(t, "-to", up.addr(), "-max-conns", over)
	logLine(t, rp2.logs, "proxy -max-conns exceeds what the descriptor limit allows; raise the limit (ulimit -n) or lower -max-conns",
		map[string]any{"level": "WARN"})
}

// Regression (issue 14 item 14): -idle-timeout did not exist; an idle pair must be cut
// (both sides reset) while a slow but active pair is kept.
func TestProxyIdleTimeout(t *testing.T) {
	up := startUpstream(t, echo)
	rp := runProxyTest(t, "-to", up.addr(), "-idle-timeout", "1500ms")

	idle := echoOnce(t, rp.addrs.Listen)
	busy := echoOnce(t, rp.addrs.Listen)

	// The busy pair moves a byte each 100 ms, through splice, until the
	// idle pair is cut.
	cut := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(idle)
		cut <- err
	}()
	var busyErr error
	buf := make([]byte, 1)
busy:
	for {
		select {
		case err := <-cut:
			assert.ErrorIs(t, err, syscall.ECONNRESET, "the idle client reads a reset")
			break busy
		case <-time.After(100 * time.Millisecond):
		}
		if _, busyErr = busy.Write(buf); busyErr != nil {
			break
		}
		if _, busyErr = io.ReadFull(busy, buf); busyErr != nil {
			break
		}
	}
	require.NoError(t, busyErr, "the busy pair is not cut")
	line := logLine(t, rp.logs, "pair close", map[string]any{"pair": float64(1)})
	assert.Equal(t, "proxy", line["closed_first"], "closed_first")
	assert.Equal(t, "idle-timeout", line["cut"], "cut")
	assert.GreaterOrEqual(t, line["duration"], float64(1500*time.Millisecond), "cut after the idle timeout")

	// The busy pair still works after more than twice the idle timeout.
	_, err := busy.Write(buf)
	require.NoError(t, err, "busy pair: write")
	_, err = io.ReadFull(busy, buf)
	require.NoError(t, err, "busy pair: read")
}

// Regression (issue 14 item 15): the drain warning counted the pairs still listed after
// Shutdown had closed their clients (pairs:0 for 2 cut, pairs:1 for 300).
func TestProxyDrainCountsCutPairs(t *testing.T) {
	up := startUpstream(t, echo)
	rp := runProxyTest(t, "-to", up.addr(), "-drain-timeout", "200ms")

	const n = 12
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		conns[i] = echoOnce(t, rp.addrs.Listen)
	}

	rp.stop(t)
	line := logLine(t, rp.logs, "proxy drain timed out; closed the remaining pairs", nil)
	assert.Equal(t, float64(n), line["pairs"], "pairs cut")
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := io.ReadAll(c)
			assert.ErrorIs(t, err, syscall.ECONNRESET, "client %d reads a reset", i)
		}()
	}
	wg.Wait()
}
