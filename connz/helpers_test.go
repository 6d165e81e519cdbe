package connz_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// world is a tracked listener and dialer on loopback with live conns
// between them.
type world struct {
	ln      *listener.Listener
	d       *dialer.Dialer
	clients []net.Conn // dialed, tracked by d
	servers []net.Conn // accepted, tracked by ln
}

// newWorld listens on 127.0.0.1:0 with conns named server and dials n
// conns named client; every conn is closed at cleanup.
func newWorld(t testing.TB, n int, serverOpts ...trackedconn.Option) *world {
	t.Helper()
	opts := append([]trackedconn.Option{trackedconn.WithName("server")}, serverOpts...)
	ln, err := listener.Listen("tcp", "127.0.0.1:0", opts...)
	require.NoError(t, err, "listen")
	w := &world{ln: ln, d: dialer.New(trackedconn.WithName("client"))}
	t.Cleanup(func() {
		for _, c := range append(w.clients, w.servers...) {
			c.Close()
		}
		ln.Close()
	})
	for range n {
		w.dial(t)
	}
	return w
}

// dial adds one conn pair to w.
func (w *world) dial(t testing.TB) (client, server net.Conn) {
	t.Helper()
	c, err := w.d.Dial("tcp", w.ln.Addr().String())
	require.NoError(t, err, "dial")
	w.clients = append(w.clients, c)
	s, err := w.ln.Accept()
	require.NoError(t, err, "accept")
	w.servers = append(w.servers, s)
	return c, s
}

// get serves GET target with h and returns the status, Content-Type and body.
func get(t testing.TB, h http.Handler, target string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err, "read the body")
	return res.StatusCode, res.Header.Get("Content-Type"), string(body)
}
