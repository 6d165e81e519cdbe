package dialer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// Dialer.Probe and CloseIf reach the idle conns an http.Transport keeps in
// its pool, which the program never holds: the idle conn reads open, and
// CloseIf closes it (Cause local) behind the Transport's back.
func TestProbeAndCloseIfReachPooledConns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SKIP: Probe answers unknown on Windows")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	counts := hooks.NewCounters()
	d := dialer.New(trackedconn.WithHook(counts))
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	require.NoError(t, err, "GET")
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	got := d.Probe()
	require.Len(t, got, 1, "Probe() of the pool")
	assert.Equal(t, trackedconn.LivenessOpen, got[0].Liveness, "the idle pooled conn")
	assert.Equal(t, trackedconn.SideClient, got[0].State.Side)
	require.NotNil(t, got[0].TCP, "the kernel's view of the pooled conn")

	n := d.CloseIf(func(p trackedconn.Probed) bool { return p.State.ID == got[0].State.ID })
	assert.Equal(t, 1, n, "CloseIf closed the pooled conn")
	assert.Equal(t, uint64(0), d.Stats().Active, "Active after CloseIf")
	assert.Equal(t, uint64(1), counts.Snapshot().Total.ClosedBy["local"], "closes by cause local")
	assert.Empty(t, d.Probe(), "Probe() after CloseIf")
}
