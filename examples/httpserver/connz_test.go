package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// /events streams until the client leaves; /debug/conns lists the conns
// meanwhile.
func TestEventsAndConnz(t *testing.T) {
	tick = 10 * time.Millisecond
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("http"))
	require.NoError(t, err, "listen")
	srv := &http.Server{Handler: newMux(ln), ConnContext: listener.ConnContext, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	resp, err := client.Get(base + "/events")
	require.NoError(t, err, "GET /events")
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"), "Content-Type")
	br := bufio.NewReader(resp.Body)
	for _, want := range []string{"id: 1", "data: tick 1", "", "id: 2", "data: tick 2", ""} {
		line, err := br.ReadString('\n')
		require.NoError(t, err, "read an event line")
		assert.Equal(t, want, strings.TrimSuffix(line, "\n"), "event line")
	}

	pageResp, err := client.Get(base + "/debug/conns?format=json")
	require.NoError(t, err, "GET /debug/conns")
	var page struct {
		Conns []struct{ Name, Liveness string }
	}
	require.NoError(t, json.NewDecoder(pageResp.Body).Decode(&page), "connz JSON")
	pageResp.Body.Close()
	assert.Len(t, page.Conns, 2, "the events conn and the page's own")

	resp.Body.Close() // the client leaves
	require.Eventually(t, func() bool { return ln.Stats().Active <= 1 }, 5*time.Second, 5*time.Millisecond,
		"the events handler returns and its conn closes")

	htmlResp, err := client.Get(base + "/debug/conns")
	require.NoError(t, err, "GET /debug/conns")
	body, _ := io.ReadAll(htmlResp.Body)
	htmlResp.Body.Close()
	assert.Equal(t, http.StatusOK, htmlResp.StatusCode, "the page")
	assert.Contains(t, string(body), "<title>connz", "the page is connz's")
}
