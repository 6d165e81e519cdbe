// Package conntest is the loopback command server that the tests of the
// contrib modules share: a tracked listener whose handlers end each conn in
// a chosen way (echo, close, half-close, reset), and the client side of each.
package conntest

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// Commands that the server obeys, one byte sent by the client first.
const (
	CmdEcho     = 'e' // server writes "pong", reads to EOF, closes: server peer, client local
	CmdClose    = 'c' // server closes at once: server local, client peer
	CmdHalf     = 'h' // client CloseWrite; server reads EOF, writes "bye", closes: both peer
	CmdReset    = 'r' // server closes with SO_LINGER 0 (RST): server local, client reset
	ShutTimeout = 10 * time.Second
)

// Serve runs the command server on ln until ln is shut down, and returns a
// function that shuts ln down and waits for every handler.
func Serve(t *testing.T, ln *listener.Listener) (stop func()) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { handle(t, c) })
		}
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), ShutTimeout)
			defer cancel()
			require.NoError(t, ln.Shutdown(ctx), "Shutdown: every server conn closes by itself")
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

func handle(t *testing.T, c net.Conn) {
	var cmd [1]byte
	if _, err := io.ReadFull(c, cmd[:]); err != nil {
		t.Errorf("server: read command: %v", err)
		_ = c.Close()
		return
	}
	switch cmd[0] {
	case CmdEcho:
		_, _ = c.Write([]byte("pong"))
		_, _ = io.Copy(io.Discard, c) // to the client's FIN
	case CmdClose:
	case CmdHalf:
		_, _ = io.Copy(io.Discard, c) // the client's CloseWrite
		_, _ = c.Write([]byte("bye"))
	case CmdReset:
		tcp := c.(*trackedconn.Conn).NetConn().(*net.TCPConn)
		if err := tcp.SetLinger(0); err != nil {
			t.Errorf("server: SetLinger(0): %v", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("server: Close: %v", err)
	}
}

// Exchange dials ln with d, runs cmd from the client's end and closes the
// client conn.
func Exchange(t *testing.T, d *dialer.Dialer, addr string, cmd byte) {
	t.Helper()
	c, err := d.DialContext(context.Background(), "tcp", addr)
	require.NoError(t, err, "DialContext")
	defer func() { require.NoError(t, c.Close(), "client Close") }()
	_, err = c.Write([]byte{cmd})
	require.NoError(t, err, "client: write command")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(ShutTimeout)))
	switch cmd {
	case CmdEcho:
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		require.NoError(t, err, "client: read pong")
	case CmdClose:
		n, err := c.Read(make([]byte, 1))
		require.Equal(t, 0, n, "client: bytes after the server's close")
		require.ErrorIs(t, err, io.EOF, "client: read after the server's close")
	case CmdHalf:
		require.NoError(t, c.(*trackedconn.Conn).CloseWrite(), "client: CloseWrite")
		b, err := io.ReadAll(c)
		require.NoError(t, err, "client: read bye")
		require.Equal(t, "bye", string(b))
	case CmdReset:
		_, err := c.Read(make([]byte, 1))
		require.ErrorIs(t, err, syscall.ECONNRESET, "client: read after the server's RST")
	}
}

// RefusedAddr returns a loopback address where nothing listens.
func RefusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// DialRefused dials an address where nothing listens.
func DialRefused(t *testing.T, d *dialer.Dialer) {
	t.Helper()
	c, err := d.DialContext(context.Background(), "tcp", RefusedAddr(t))
	if c != nil {
		_ = c.Close()
	}
	require.True(t, errors.Is(err, syscall.ECONNREFUSED), "dial to a closed port: got %v, want ECONNREFUSED", err)
}
