package dialer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
)

func helloServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// With bodies read and closed, an http.Transport reuses one conn.
func TestTransportReusesConn(t *testing.T) {
	srv := helloServer(t)
	d := dialer.New()
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	const n = 10
	for range n {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	assert.Equal(t, uint64(1), d.Stats().Opened, "conns dialed for %d requests with drained bodies", n)

	tr.CloseIdleConnections()
	assert.Equal(t, uint64(0), d.Stats().Active, "Active after CloseIdleConnections")
	assert.Empty(t, d.Conns())
}

// A body left open keeps its conn busy: each request dials anew.
func TestTransportBodiesLeftOpen(t *testing.T) {
	srv := helloServer(t)
	d := dialer.New()
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	const n = 5
	var open []*http.Response
	for range n {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err)
		open = append(open, resp)
	}
	assert.Equal(t, uint64(n), d.Stats().Opened, "conns dialed for %d requests with open bodies", n)
	assert.Len(t, d.Conns(), n, "live conns")
	for _, resp := range open {
		resp.Body.Close()
	}
}

// A Transport's failed dials show up in Failures.
func TestTransportDialFailure(t *testing.T) {
	d := dialer.New()
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	_, err := (&http.Client{Transport: tr}).Get("http://" + refusedAddr(t))
	require.Error(t, err)
	assert.Equal(t, dialer.Failures{Refused: 1}, d.Failures())
}
