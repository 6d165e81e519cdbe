package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer that the proxy's logger writes while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// upstream is a loopback TCP server with one goroutine per conn.
type upstream struct {
	ln   net.Listener
	wg   sync.WaitGroup
	eofs chan struct{} // a tick each time a handler reads EOF
}

// startUpstream serves handle on 127.0.0.1 until the test ends.
func startUpstream(t *testing.T, handle func(u *upstream, c *net.TCPConn)) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "upstream: listen")
	u := &upstream{ln: ln, eofs: make(chan struct{}, 16)}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(u, c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.wg.Wait()
	})
	return u
}

func (u *upstream) addr() string { return u.ln.Addr().String() }

// echo sends back what it reads; at EOF it shuts its write side, so the
// client reads EOF after the echo, then waits for the client to close.
func echo(u *upstream, c *net.TCPConn) {
	if _, err := io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c}); err != nil {
		return
	}
	u.eofs <- struct{}{}
	c.CloseWrite()
	io.Copy(io.Discard, c)
}

// startProxy runs the proxy in-process with args (plus -listen and
// -log-format json) until the test ends, and returns its addresses and
// its log.
func startProxy(t *testing.T, args ...string) (proxyAddrs, *syncBuffer) {
	t.Helper()
	rp := runProxyTest(t, args...)
	return rp.addrs, rp.logs
}

// logLine waits for a log line with message msg whose attributes include
// match, and returns it.
func logLine(t *testing.T, logs *syncBuffer, msg string, match map[string]any) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "log line %q is JSON", sc.Text())
			if line["msg"] != msg {
				continue
			}
			ok := true
			for k, v := range match {
				ok = ok && line[k] == v
			}
			if ok {
				return line
			}
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "log line not found", "msg %q with %v in:\n%s", msg, match, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// dialAndRead dials addr and reads until EOF, and returns the error of the
// dial or of the read: the proxy may reset a conn before the dial returns.
func dialAndRead(t *testing.T, addr string) error {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	return err
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err, "dial the proxy")
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

func TestProxyBytesIntact(t *testing.T) {
	up := startUpstream(t, echo)
	addrs, logs := startProxy(t, "-to", up.addr())

	const pairs, size = 4, 1 << 20
	var wg sync.WaitGroup
	for range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := make([]byte, size)
			rand.Read(payload)
			c, err := net.Dial("tcp", addrs.Listen)
			if !assert.NoError(t, err, "dial the proxy") {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			sent := make(chan error, 1)
			go func() {
				_, err := c.Write(payload)
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				sent <- err
			}()
			h := sha256.New()
			n, err := io.Copy(h, c)
			assert.NoError(t, err, "read the echo")
			assert.NoError(t, <-sent, "send the payload")
			assert.Equal(t, int64(size), n, "echoed bytes")
			assert.Equal(t, sha256.Sum256(payload), [32]byte(h.Sum(nil)), "sha256 of the echo")
		}()
	}
	wg.Wait()
	for range pairs {
		line := logLine(t, logs, "pair close", map[string]any{"client_to_upstream": float64(size)})
		assert.Equal(t, float64(size), line["upstream_to_client"], "bytes upstream to client")
	}
}

func TestProxyHalfClose(t *testing.T) {
	up := startUpstream(t, echo)
	addrs, logs := startProxy(t, "-to", up.addr())

	c := dial(t, addrs.Listen)
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err, "write")
	require.NoError(t, c.CloseWrite(), "client CloseWrite")
	select {
	case <-up.eofs:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the upstream did not read EOF after the client's CloseWrite")
	}
	got, err := io.ReadAll(c) // the echo, then the upstream's EOF
	require.NoError(t, err, "read until EOF; log:\n%s", logs)
	assert.Equal(t, "ping", string(got), "echo")
	c.Close()

	open := logLine(t, logs, "pair open", nil)
	pair := open["pair"]
	logLine(t, logs, "pair half-close", map[string]any{"pair": pair, "from": "client", "to": "upstream", "bytes": float64(4)})
	logLine(t, logs, "pair half-close", map[string]any{"pair": pair, "from": "upstream", "to": "client", "bytes": float64(4)})
	line := logLine(t, logs, "pair close", map[string]any{"pair": pair})
	assert.Equal(t, "client", line["closed_first"], "closed_first")
	assert.Equal(t, "peer", line["client_cause"], "client_cause")
	assert.Equal(t, "peer", line["upstream_cause"], "upstream_cause")
	assert.Equal(t, float64(4), line["client_to_upstream"], "client_to_upstream")
	assert.Equal(t, float64(4), line["upstream_to_client"], "upstream_to_client")
	assert.Equal(t, up.addr(), line["upstream"], "upstream address")
	assert.Equal(t, c.LocalAddr().String(), line["client"], "client address")
	assert.Contains(t, line, "duration", "duration")
}

func TestProxyUpstreamClosesFirst(t *testing.T) {
	up := startUpstream(t, func(u *upstream, c *net.TCPConn) {
		c.Write([]byte("bye"))
	})
	addrs, logs := startProxy(t, "-to", up.addr())

	c := dial(t, addrs.Listen)
	got, err := io.ReadAll(c)
	require.NoError(t, err, "read until EOF")
	assert.Equal(t, "bye", string(got), "greeting")
	c.Close()

	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "upstream", line["closed_first"], "closed_first")
	assert.Equal(t, "peer", line["upstream_cause"], "upstream_cause")
	assert.Equal(t, float64(3), line["upstream_to_client"], "upstream_to_client")
}

func TestProxyUpstreamReset(t *testing.T) {
	up := startUpstream(t, func(u *upstream, c *net.TCPConn) {
		io.ReadFull(c, make([]byte, 4))
		c.SetLinger(0) // Close sends RST
	})
	addrs, logs := startProxy(t, "-to", up.addr())

	c := dial(t, addrs.Listen)
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err, "write")
	io.Copy(io.Discard, c) // EOF or a reset: the proxy closes the client side

	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "upstream", line["closed_first"], "closed_first")
	assert.Equal(t, "reset", line["upstream_cause"], "upstream_cause")
	assert.Equal(t, "reset", line["upstream_flags"], "upstream_flags")
}

func TestProxyClientReset(t *testing.T) {
	up := startUpstream(t, echo)
	addrs, logs := startProxy(t, "-to", up.addr())

	c := dial(t, addrs.Listen)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err, "write")
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err, "read the echo")
	require.NoError(t, c.SetLinger(0), "SetLinger")
	require.NoError(t, c.Close(), "Close with RST")

	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "client", line["closed_first"], "closed_first")
	assert.Equal(t, "reset", line["client_cause"], "client_cause")
	assert.Equal(t, float64(1), line["client_to_upstream"], "client_to_upstream")
}

func TestProxyDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	dead := ln.Addr().String()
	ln.Close() // nothing listens there any more

	addrs, logs := startProxy(t, "-to", dead, "-dial-timeout", "2s")
	// Regression (issue 14 item 12): a refused dial reached the client as a clean EOF.
	assert.ErrorIs(t, dialAndRead(t, addrs.Listen), syscall.ECONNRESET, "the proxy resets the client conn")

	logLine(t, logs, "pair dial failed", map[string]any{"upstream": dead, "level": "WARN"})
	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "upstream", line["closed_first"], "closed_first: the upstream refused")
	assert.Equal(t, "local", line["client_cause"], "client_cause")
	assert.Equal(t, "none", line["upstream_cause"], "upstream_cause")
}

func TestProxyDrainTimeout(t *testing.T) {
	up := startUpstream(t, echo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	ready := make(chan proxyAddrs, 1)
	exited := make(chan int, 1)
	go func() {
		exited <- runProxy(ctx, []string{"-listen", "127.0.0.1:0", "-to", up.addr(), "-log-format", "json",
			"-drain-timeout", "100ms"}, io.Discard, logs, func(a proxyAddrs) { ready <- a })
	}()
	addrs := <-ready

	c := dial(t, addrs.Listen)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err, "write")
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err, "read the echo")

	cancel() // SIGINT
	select {
	case code := <-exited:
		assert.Equal(t, 0, code, "exit code")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the proxy did not stop after its drain timeout", "log:\n%s", logs.String())
	}
	_, err = io.ReadAll(c)
	assert.ErrorIs(t, err, syscall.ECONNRESET, "the client reads a reset once the proxy cut the pair")

	logLine(t, logs, "proxy draining", map[string]any{"live_pairs": float64(1)})
	logLine(t, logs, "proxy drain timed out; closed the remaining pairs", nil)
	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "proxy", line["closed_first"], "closed_first")
	assert.Equal(t, "drain-timeout", line["cut"], "cut")
	logLine(t, logs, "proxy stopped", nil)
}

func TestProxyDrainWaits(t *testing.T) {
	up := startUpstream(t, echo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	ready := make(chan proxyAddrs, 1)
	exited := make(chan int, 1)
	go func() {
		exited <- runProxy(ctx, []string{"-listen", "127.0.0.1:0", "-to", up.addr(), "-log-format", "json"},
			io.Discard, logs, func(a proxyAddrs) { ready <- a })
	}()
	addrs := <-ready
	c := dial(t, addrs.Listen)
	_, err := c.Write([]byte("x"))
	require.NoError(t, err, "write")
	_, err = io.ReadFull(c, make([]byte, 1))
	require.NoError(t, err, "read the echo")

	cancel()
	logLine(t, logs, "proxy draining", nil)
	_, err = net.Dial("tcp", addrs.Listen)
	assert.Error(t, err, "no new conns while draining")
	select {
	case <-exited:
		require.FailNow(t, "the proxy stopped while a pair was live")
	case <-time.After(50 * time.Millisecond):
	}

	// The pair still works while the proxy drains.
	_, err = c.Write([]byte("y"))
	require.NoError(t, err, "write while draining")
	require.NoError(t, c.CloseWrite(), "CloseWrite")
	got, err := io.ReadAll(c)
	require.NoError(t, err, "read while draining")
	assert.Equal(t, "y", string(got), "echo while draining")
	c.Close()
	select {
	case code := <-exited:
		assert.Equal(t, 0, code, "exit code")
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the proxy did not stop after its last pair ended")
	}
	line := logLine(t, logs, "pair close", nil)
	assert.Equal(t, "client", line["closed_first"], "closed_first")
}

func TestProxyDebug(t *testing.T) {
	up := startUpstream(t, echo)
	addrs, _ := startProxy(t, "-to", up.addr(), "-debug", "127.0.0.1:0")
	require.NotEmpty(t, addrs.Debug, "debug address")

	c := echoOnce(t, addrs.Listen) // both conns of the pair are open now

	body, ctype := debugGet(t, addrs.Debug, "/debug/conns", "")
	assert.Equal(t, "application/json", ctype, "/debug/conns Content-Type")
	var conns []struct {
		Pair               uint64
		ID                 uint64
		Side, Name, Remote string
		Liveness           string
	}
	require.NoError(t, json.Unmarshal([]byte(body), &conns), "/debug/conns is JSON: %s", body)
	require.Len(t, conns, 2, "/debug/conns: both conns of the pair")
	assert.Equal(t, "server", conns[0].Side, "accepted conn first")
	assert.Equal(t, "client", conns[0].Name, "the accepted conn faces the client")
	assert.Equal(t, c.LocalAddr().String(), conns[0].Remote, "accepted conn's remote")
	assert.Equal(t, "client", conns[1].Side, "dialed conn second")
	assert.Equal(t, "upstream", conns[1].Name, "the dialed conn faces the upstream")
	assert.Equal(t, up.addr(), conns[1].Remote, "dialed conn's remote")
	for _, dc := range conns {
		assert.NotZero(t, dc.Pair, "conn %d: pair", dc.ID)
		assert.Equal(t, conns[0].Pair, dc.Pair, "conn %d: same pair", dc.ID)
		// No byte counts here: a spliced copy adds its bytes every 4 MiB and when it returns.
		assert.Equal(t, "open", dc.Liveness, "conn %d: Probe", dc.ID)
	}

	body, ctype = debugGet(t, addrs.Debug, "/debug/conns?format=text", "")
	assert.Equal(t, "text/plain; charset=utf-8", ctype, "text Content-Type")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	require.Len(t, lines, 3, "header and two conns:\n%s", body)
	assert.Regexp(t, `^PAIR\s+ID\s+SIDE\s+NAME\s+LOCAL\s+REMOTE\s+AGE`, lines[0], "header")
	assert.Contains(t, lines[1], "server", "first row")
	assert.Contains(t, lines[2], "upstream", "second row")

	body, _ = debugGet(t, addrs.Debug, "/debug/counters", "")
	var counters struct {
		Total struct{ Opened, Active uint64 }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &counters), "/debug/counters is JSON: %s", body)
	assert.Equal(t, uint64(2), counters.Total.Active, "counters: active conns")

	code, _, _ := debugFetch(t, addrs.Debug, "/debug/conns?format=xml", "")
	assert.Equal(t, http.StatusBadRequest, code, "bad format")
}

func TestDebugListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"localhost:8080": "localhost:8080",
		"0.0.0.0:8080":   "0.0.0.0:8080",
		"[::]:8080":      "[::]:8080",
		"[::1]:0":        "[::1]:0",
	} {
		got, err := debugListenAddr(in)
		assert.NoError(t, err, "debugListenAddr(%q)", in)
		assert.Equal(t, want, got, "debugListenAddr(%q)", in)
	}
	for _, in := range []string{"8080", "host", ":port", ""} {
		_, err := debugListenAddr(in)
		assert.Error(t, err, "debugListenAddr(%q)", in)
	}
}

// Bad flags must give one line on stderr and exit code 2, never a stack
// trace, and must not start anything.
func TestProxyBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-bogus"},
		{},
		{"-listen", "127.0.0.1:0"},
		{"-to", "no-port"},
		{"-to", ":80"},
		{"-to", "host:notaport"},
		{"-to", "host:99999"},
		{"-to", "host:1", "-listen", "nope"},
		{"-to", "host:1", "-debug", "8080"},
		{"-to", "host:1", "-dial-timeout", "0"},
		{"-to", "host:1", "-dial-timeout", "soon"},
		{"-to", "host:1", "-drain-timeout", "-1s"},
		{"-to", "host:1", "-log-format", "xml"},
		{"-to", "host:1", "-max-conns", "0"},
		{"-to", "host:1", "-idle-timeout", "-1s"},
		{"-to", "host:1", "-stall-timeout", "-1s"},
		{"-to", "host:1", "extra"},
	} {
		code, stdout, stderr := runCmd(append([]string{"proxy"}, args...)...)
		assert.Equal(t, 2, code, "proxy %q: exit code", args)
		assert.Empty(t, stdout, "proxy %q: stdout", args)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "proxy %q: one line on stderr: %q", args, stderr)
		assert.True(t, strings.HasPrefix(stderr, "connwatch proxy: "), "proxy %q: stderr %q", args, stderr)
		assert.NotContains(t, stderr, "goroutine", "proxy %q: no stack trace", args)
	}
}

func TestProxyListenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	defer ln.Close()
	code, _, stderr := runCmd("proxy", "-listen", ln.Addr().String(), "-to", "127.0.0.1:1")
	assert.Equal(t, 1, code, "exit code with the address in use")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line on stderr: %q", stderr)
}
