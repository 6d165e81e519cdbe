package listener_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// httpServer serves h on ln until the test ends.
func httpServer(t *testing.T, ln net.Listener, h http.Handler) *http.Server {
	t.Helper()
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v, want http.ErrServerClosed", err)
		}
	})
	return srv
}

// httpClient returns a client with its own Transport, whose idle conns are
// closed at the end of the test.
func httpClient(t *testing.T) (*http.Client, *http.Transport) {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err, "GET %s", url)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "reading the body")
	require.Equal(t, http.StatusOK, resp.StatusCode, "status of GET %s", url)
	return string(b)
}

var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })

// Keep-alive reuses one tracked conn, and http.Server.Shutdown leaves the
// listener with no live conn.
func TestHTTPKeepAliveAndServerShutdown(t *testing.T) {
	ln := listen(t)
	srv := httpServer(t, ln, hello)
	client, _ := httpClient(t)
	const n = 10
	for range n {
		assert.Equal(t, "hello", get(t, client, "http://"+ln.Addr().String()))
	}
	st := ln.Stats()
	assert.Equal(t, uint64(1), st.Opened, "conns opened for %d keep-alive requests", n)
	assert.Equal(t, uint64(1), st.Active, "the idle keep-alive conn is live")

	// The client keeps its idle conn: the server must close it.
	require.NoError(t, srv.Shutdown(context.Background()))
	assert.Empty(t, ln.Conns(), "Conns after http.Server.Shutdown")
	assert.Equal(t, uint64(0), ln.Stats().Active, "Active after http.Server.Shutdown")
}

// net/http half-closes a conn through the closeWriter interface after a 431
// (closeWriteAndWait); the tracked conn must forward CloseWrite and record
// it. This path sleeps 500ms inside net/http (rstAvoidanceDelay).
func TestHTTPCloseWrite(t *testing.T) {
	rec := newRecorder()
	ln := listen(t, trackedconn.WithHook(rec))
	srv := &http.Server{Handler: hello, MaxHeaderBytes: 1} // reads at most 1+4096 header bytes
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		<-done
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 8<<10)+"\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "reading the response")
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	// The body ends at the server's FIN, sent by CloseWrite 500ms before its
	// Close (which, with our unread header bytes, would send an RST).
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err, "reading the body up to the FIN")

	st := <-rec.closed
	assert.True(t, st.WriteShut, "WriteShut: CloseWrite reached the tracked conn")
	assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventWriteShut, trackedconn.EventClose}, rec.eventsOf(st.ID))
}

// countingListener hands out TCP conns whose ReadFrom calls are counted, to
// show that the tracked conn passes net/http's ReadFrom (sendfile) through.
type countingListener struct {
	net.Listener
	readFroms *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{TCPConn: c.(*net.TCPConn), readFroms: l.readFroms}, nil
}

type countingConn struct {
	*net.TCPConn
	readFroms *atomic.Int64
}

func (c *countingConn) ReadFrom(r io.Reader) (int64, error) {
	c.readFroms.Add(1)
	return c.TCPConn.ReadFrom(r)
}

// A static file served over plain HTTP reaches the socket through the TCP
// conn's ReadFrom (sendfile), under the tracked conn, and every byte is
// counted. net/http writes the first 512 bytes through its bufio.Writer
// (for content sniffing), then hands the rest to the conn's ReadFrom.
func TestHTTPServeFileReadFrom(t *testing.T) {
	const size = 3 << 20
	path := filepath.Join(t.TempDir(), "blob.bin")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("connwatch"), size/9+1)[:size], 0o600))

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var readFroms atomic.Int64
	rec := newRecorder()
	ln := listener.Wrap(countingListener{tcp, &readFroms}, trackedconn.WithHook(rec))
	httpServer(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, path)
	}))
	client, tr := httpClient(t)
	resp, err := client.Get("http://" + ln.Addr().String() + "/blob.bin")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NoError(t, err, "reading the body")
	assert.Equal(t, int64(size), n, "body length")

	tr.CloseIdleConnections() // the server reads EOF and closes its conn
	st := <-rec.closed
	assert.GreaterOrEqual(t, readFroms.Load(), int64(1), "ReadFrom calls on the conn under the tracked conn")
	assert.GreaterOrEqual(t, st.BytesWritten, int64(size), "BytesWritten of the server conn")
	assert.GreaterOrEqual(t, ln.Stats().BytesWritten, uint64(size), "listener BytesWritten")
}

// A hijacked conn is the tracked conn; closing it fires EventClose.
func TestHTTPHijack(t *testing.T) {
	rec := newRecorder()
	ln := listen(t, trackedconn.WithHook(rec))
	hijacked := make(chan net.Conn, 1)
	httpServer(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		hijacked <- c
		_, _ = brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
		_ = brw.Flush()
		_ = c.Close()
	}))
	client, _ := httpClient(t)
	assert.Equal(t, "hi", get(t, client, "http://"+ln.Addr().String()))

	c := <-hijacked
	tc, ok := c.(*trackedconn.Conn)
	require.True(t, ok, "the hijacked conn is a *trackedconn.Conn, got %T", c)
	st := <-rec.closed
	assert.Equal(t, tc.ID(), st.ID, "EventClose of the hijacked conn")
	assert.True(t, st.Closed, "Closed")
	assert.Equal(t, trackedconn.Stats{Opened: 1, Closed: 1, BytesRead: uint64(st.BytesRead), BytesWritten: uint64(st.BytesWritten)}, ln.Stats())
}
