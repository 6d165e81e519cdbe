package trackedconn_test

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/testcert"
	"github.com/connwatch/connwatch/trackedconn"
)

// tcpPair returns both ends of a loopback TCP connection. Both are closed
// when the test ends (a second Close is harmless).
func tcpPair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen on loopback TCP")
	defer ln.Close()
	c, s := acceptDial(t, ln, "tcp")
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// unixPair returns both ends of a Unix stream connection whose socket file
// lives in a temporary directory.
func unixPair(t testing.TB) (client, server *net.UnixConn) {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 90 { // sun_path holds 108 bytes
		var err error
		dir, err = os.MkdirTemp("", "cw")
		require.NoError(t, err, "temp dir for a short socket path")
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	require.NoError(t, err, "listen on a Unix socket")
	defer ln.Close()
	c, s := acceptDial(t, ln, "unix")
	return c.(*net.UnixConn), s.(*net.UnixConn)
}

func acceptDial(t testing.TB, ln net.Listener, network string) (client, server net.Conn) {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	accepted := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		accepted <- result{c, err}
	}()
	client, err := net.Dial(network, ln.Addr().String())
	if err != nil {
		ln.Close()
		<-accepted
		require.NoError(t, err, "dial %s", network)
	}
	t.Cleanup(func() { client.Close() })
	r := <-accepted
	require.NoError(t, r.err, "accept %s", network)
	t.Cleanup(func() { r.c.Close() })
	return client, r.c
}

// tlsConfigs returns a client and a server configuration that trust one
// self-signed certificate for "localhost", generated once.
var tlsConfigs = sync.OnceValues(func() (client, server *tls.Config) {
	server, client, err := testcert.Configs()
	if err != nil {
		panic(err)
	}
	client.ServerName = "localhost"
	return client, server
})

// tlsPair returns both ends of a TLS connection over loopback TCP, before
// the handshake.
func tlsPair(t testing.TB) (client, server *tls.Conn) {
	t.Helper()
	cc, sc := tlsConfigs()
	c, s := tcpPair(t)
	client, server = tls.Client(c, cc), tls.Server(s, sc)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// recorded is one call of a hook.
type recorded struct {
	e trackedconn.Event
	s trackedconn.State
}

// recorder is a Hook that records every event with its State.
type recorder struct {
	mu  sync.Mutex
	got []recorded
}

func (r *recorder) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	r.mu.Lock()
	r.got = append(r.got, recorded{e, s})
	r.mu.Unlock()
}

// events returns the events in the order they fired.
func (r *recorder) events() []trackedconn.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]trackedconn.Event, len(r.got))
	for i, g := range r.got {
		out[i] = g.e
	}
	return out
}

// count returns how many times e fired.
func (r *recorder) count(e trackedconn.Event) int {
	n := 0
	for _, g := range r.events() {
		if g == e {
			n++
		}
	}
	return n
}

// state returns the State passed with the last e; it fails the test if e
// never fired.
func (r *recorder) state(t testing.TB, e trackedconn.Event) trackedconn.State {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.got) - 1; i >= 0; i-- {
		if r.got[i].e == e {
			return r.got[i].s
		}
	}
	require.Failf(t, "event did not fire", "no %v event; got %v", e, r.got)
	return trackedconn.State{}
}

// wrapRec wraps c with a fresh recorder as its hook.
func wrapRec(c net.Conn, opts ...trackedconn.Option) (*trackedconn.Conn, *recorder) {
	r := new(recorder)
	return trackedconn.Wrap(c, append(opts, trackedconn.WithHook(r))...), r
}

var fakeAddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 7}

// nopConn is a net.Conn that moves every byte instantly and never fails.
type nopConn struct{}

func (nopConn) Read(b []byte) (int, error)       { return len(b), nil }
func (nopConn) Write(b []byte) (int, error)      { return len(b), nil }
func (nopConn) Close() error                     { return nil }
func (nopConn) LocalAddr() net.Addr              { return fakeAddr }
func (nopConn) RemoteAddr() net.Addr             { return fakeAddr }
func (nopConn) SetDeadline(time.Time) error      { return nil }
func (nopConn) SetReadDeadline(time.Time) error  { return nil }
func (nopConn) SetWriteDeadline(time.Time) error { return nil }

// fakeConn returns the errors it is given and counts Close calls. Its
// errors are fixed values, so that tests can check they come back
// unchanged (==, not only errors.Is).
type fakeConn struct {
	nopConn
	readErr, writeErr, closeErr error

	closes        atomic.Int32 // Close calls begun
	closeReturned atomic.Bool  // the first Close returned
}

func (f *fakeConn) Read(b []byte) (int, error) {
	if f.readErr != nil {
		return 0, f.readErr
	}
	return len(b), nil
}

func (f *fakeConn) Write(b []byte) (int, error) {
	if f.writeErr != nil {
		return 0, f.writeErr
	}
	return len(b), nil
}

func (f *fakeConn) Close() error {
	f.closes.Add(1)
	defer f.closeReturned.Store(true)
	return f.closeErr
}

// requirePanicPrefix runs f and requires it to panic with a string that
// starts with prefix.
func requirePanicPrefix(t *testing.T, prefix string, f func()) {
	t.Helper()
	var got any
	func() {
		defer func() { got = recover() }()
		f()
	}()
	require.NotNil(t, got, "want a panic")
	msg := ""
	switch v := got.(type) {
	case string:
		msg = v
	case error:
		msg = v.Error()
	}
	require.True(t, strings.HasPrefix(msg, prefix), "panic %q does not start with %q", got, prefix)
}
