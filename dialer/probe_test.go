package dialer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// Dialer.Probe and CloseIf reach the idle conns an http.Transport keeps in
// its pool: the one the server closed reads peer-closed, is reaped, closes
// with Cause peer, and the next request dials anew.
func TestProbeAndCloseIfReachPooledConns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SKIP: Probe answers unknown on Windows")
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	srv.Start()
	defer srv.Close()
	counts := hooks.NewCounters()
	d := dialer.New(trackedconn.WithHook(counts))
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	get := func() {
		resp, err := client.Get(srv.URL)
		require.NoError(t, err, "GET")
		_, err = io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	get()
	got := d.Probe()
	require.Len(t, got, 1, "Probe() of the pool")
	assert.Equal(t, trackedconn.LivenessOpen, got[0].Liveness, "the idle pooled conn")
	require.Equal(t, trackedconn.SideClient, got[0].State.Side)

	srv.CloseClientConnections() // the server ends the idle conn (FIN)
	deadline := time.Now().Add(5 * time.Second)
	for d.Probe()[0].Liveness != trackedconn.LivenessPeerClosed {
		require.True(t, time.Now().Before(deadline), "the pooled conn never read peer-closed")
		time.Sleep(time.Millisecond)
	}
	n := d.CloseIf(func(p trackedconn.Probed) bool {
		return p.Liveness == trackedconn.LivenessPeerClosed || p.Liveness == trackedconn.LivenessStalled
	})
	assert.Equal(t, 1, n, "CloseIf reaped")
	assert.Equal(t, uint64(1), counts.Snapshot().Total.ClosedBy["peer"], "closes by cause peer")
	get()
	assert.Equal(t, uint64(2), d.Stats().Opened, "the next request dials anew")
}
