package listener_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// whoAmI answers the ID of the tracked conn under the request, or "none".
var whoAmI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := trackedconn.FromContext(r.Context())
	if !ok {
		fmt.Fprint(w, "none")
		return
	}
	fmt.Fprintf(w, "%d %s", c.ID(), c.State().Side)
})

// contextServer serves whoAmI on ln with ConnContext set to listener.ConnContext.
func contextServer(t *testing.T, ln net.Listener) {
	t.Helper()
	srv := &http.Server{Handler: whoAmI, ConnContext: listener.ConnContext}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v, want http.ErrServerClosed", err)
		}
	})
}

// The handler of a plain HTTP server finds its request's tracked conn, the
// same one for every request of a keep-alive conn.
func TestConnContextHTTP(t *testing.T) {
	ln := listen(t)
	contextServer(t, ln)
	client, tr := httpClient(t)
	url := "http://" + ln.Addr().String() + "/"

	first := get(t, client, url)
	second := get(t, client, url)
	conns := ln.Conns()
	require.Len(t, conns, 1, "one keep-alive conn")
	want := fmt.Sprintf("%d server", conns[0].ID)
	assert.Equal(t, want, first, "FromContext: the accepted conn")
	assert.Equal(t, want, second, "FromContext: the same conn for the next request")

	tr.CloseIdleConnections()
	third := get(t, client, url)
	assert.NotEqual(t, first, third, "a new conn, a new tracked conn")
}

// Under HTTPS the server hands ConnContext a *tls.Conn: the tracked conn
// beneath it is found.
func TestConnContextHTTPS(t *testing.T) {
	serverCfg, clientCfg := tlsConfigs(t)
	ln := listen(t)
	contextServer(t, tls.NewListener(ln, serverCfg))
	tr := &http.Transport{TLSClientConfig: clientCfg}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	got := get(t, client, "https://"+ln.Addr().String()+"/")
	conns := ln.Conns()
	require.Len(t, conns, 1, "one conn")
	assert.Equal(t, fmt.Sprintf("%d server", conns[0].ID), got, "FromContext: the tracked conn beneath TLS")
}

// A server on an untracked listener leaves the context alone.
func TestConnContextUntracked(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen")
	contextServer(t, ln)
	client, _ := httpClient(t)
	assert.Equal(t, "none", get(t, client, "http://"+ln.Addr().String()+"/"), "no tracked conn")
}

// netConner is a conn wrapper with a NetConn method, as *tls.Conn has.
type netConner struct{ net.Conn }

func (n netConner) NetConn() net.Conn { return n.Conn }

// loop is a wrapper whose NetConn returns itself: ConnContext must stop.
type loop struct{ net.Conn }

func (l *loop) NetConn() net.Conn { return l }

func TestConnContextWrappers(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	tc := trackedconn.Wrap(a)
	defer tc.Close()
	for _, tt := range []struct {
		name string
		conn net.Conn
		want *trackedconn.Conn
	}{
		{"tracked", tc, tc},
		{"one wrapper", netConner{tc}, tc},
		{"three wrappers", netConner{netConner{netConner{tc}}}, tc},
		{"untracked", b, nil},
		{"wrapper of untracked", netConner{b}, nil},
		{"cycle", &loop{b}, nil},
	} {
		got, ok := trackedconn.FromContext(listener.ConnContext(context.Background(), tt.conn))
		assert.Equal(t, tt.want != nil, ok, "%s: found", tt.name)
		assert.Same(t, tt.want, got, "%s: the tracked conn", tt.name)
	}
}
