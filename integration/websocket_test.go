package integration

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// wsEcho echoes every message until the client closes, and sends the
// State of its tracked conn, read right after the upgrade, on upgraded.
func wsEcho(upgraded chan<- trackedconn.State) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		tc, ok := trackedconn.FromContext(r.Context())
		if !ok {
			panic("integration: no tracked conn in the request context")
		}
		upgraded <- tc.State()
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return // the close handshake (or a broken conn) ends the loop
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	}
}

func TestWebSocket(t *testing.T) {
	var srvLog, cliLog stateLog
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithHook(&srvLog))
	require.NoError(t, err)
	upgraded := make(chan trackedconn.State, 1)
	srv := &http.Server{Handler: wsEcho(upgraded), ConnContext: listener.ConnContext}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	d := dialer.New(trackedconn.WithHook(&cliLog))
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/echo",
		&websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	require.NoError(t, err, "websocket.Dial")
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	atUpgrade := <-upgraded
	// The upgrade: the client's request is what the server read, and the
	// server's 101 is what the client read. The Transport's write loop
	// counts its Write when the call returns, which may be after the
	// server has answered: wait for the counts to meet.
	var cliUp trackedconn.State
	require.Eventually(t, func() bool {
		cliUp = d.Conns()[0]
		return cliUp.BytesWritten == atUpgrade.BytesRead && cliUp.BytesRead == atUpgrade.BytesWritten
	}, 5*time.Second, pollEvery, "upgrade bytes: the client's and the server's counts never met")

	// Messages under 126 bytes: a client frame is 2 header bytes, a 4-byte
	// mask and the payload; a server frame is 2 header bytes and the
	// payload.
	var up, down int64
	for _, size := range []int{1, 10, 100, 125} {
		msg := strings.Repeat("x", size)
		require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(msg)))
		typ, b, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, typ)
		require.Equal(t, msg, string(b))
		up += int64(6 + size)
		down += int64(2 + size)
	}
	const reason = "bye"
	require.NoError(t, c.Close(websocket.StatusNormalClosure, reason), "close handshake")
	up += 6 + 2 + int64(len(reason))   // the client's close frame: code and reason, masked
	down += 2 + 2 + int64(len(reason)) // the server echoes code and reason

	require.Eventually(t, func() bool { return ln.Stats().Active == 0 && d.Stats().Active == 0 }, 10*time.Second, pollEvery,
		"conns still open after the close handshake: server %d, client %d", ln.Stats().Active, d.Stats().Active)
	require.Len(t, srvLog.Closed(), 1)
	require.Len(t, cliLog.Closed(), 1)
	s, cl := srvLog.Closed()[0], cliLog.Closed()[0]

	assert.Equal(t, up, s.BytesRead-atUpgrade.BytesRead, "server: bytes read after the upgrade")
	assert.Equal(t, down, s.BytesWritten-atUpgrade.BytesWritten, "server: bytes written after the upgrade")
	assert.Equal(t, up, cl.BytesWritten-cliUp.BytesWritten, "client: bytes written after the upgrade")
	assert.Equal(t, down, cl.BytesRead-cliUp.BytesRead, "client: bytes read after the upgrade")

	// The server echoes the close frame and closes; the client closes once
	// it has read that frame. Either may reach close(2) first.
	assertCloseOrder(t, s, cl)
	assert.False(t, s.Reset || cl.Reset, "no reset")
	assert.False(t, errors.Is(ctx.Err(), context.DeadlineExceeded))
}
