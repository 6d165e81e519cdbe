package listener_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/internal/testcert"
	"github.com/connwatch/connwatch/trackedconn"
)

// tlsConfigs returns a server config with a fresh self-signed certificate
// for 127.0.0.1, and a client config that trusts it.
func tlsConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	server, client, err := testcert.Configs()
	require.NoError(t, err, "self-signed certificate")
	return server, client
}

// echo sends payload on c while reading as many bytes back, then closes c.
func echo(t *testing.T, c net.Conn, payload []byte) {
	t.Helper()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	got := make([]byte, len(payload))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err, "reading the echo")
	require.NoError(t, <-werr, "writing the payload")
	assert.Equal(t, payload, got, "echoed payload")
	require.NoError(t, c.Close())
}

// TLS over a tracked listener (tls.NewListener) counts the bytes on the
// wire; a tls.Dialer wrapped by dialer.Wrap tracks the TLS conn and counts
// plaintext; TLS run above a tracked dialed conn counts the wire again.
func TestTLSBothWays(t *testing.T) {
	serverCfg, clientCfg := tlsConfigs(t)
	srvRec := newRecorder()
	ln := listen(t, trackedconn.WithHook(srvRec))
	srv := serve(tls.NewListener(ln, serverCfg), func(c net.Conn) {
		_, _ = io.Copy(c, c) // echo until the client's close_notify
		_ = c.Close()
	})
	payload := make([]byte, 64<<10)
	_, _ = rand.Read(payload)

	t.Run("tls.Dialer under dialer.Wrap", func(t *testing.T) {
		cliRec := newRecorder()
		d := dialer.Wrap((&tls.Dialer{Config: clientCfg}).DialContext, trackedconn.WithHook(cliRec))
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		require.NoError(t, err, "dialing TLS")
		tc := c.(*trackedconn.Conn)
		_, isTLS := tc.NetConn().(*tls.Conn)
		require.True(t, isTLS, "the tracked conn wraps the *tls.Conn, got %T", tc.NetConn())
		echo(t, c, payload)

		cs := <-cliRec.closed
		assert.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventClose}, cliRec.eventsOf(cs.ID), "client events")
		assert.Equal(t, int64(len(payload)), cs.BytesWritten, "client BytesWritten: plaintext over tls.Conn")
		assert.Equal(t, int64(len(payload)), cs.BytesRead, "client BytesRead: plaintext over tls.Conn")
		assert.Equal(t, trackedconn.SideClient, cs.Side)

		ss := <-srvRec.closed
		assert.Greater(t, ss.BytesRead, int64(len(payload)), "server BytesRead: the wire, with handshake and record overhead")
		assert.Greater(t, ss.BytesWritten, int64(len(payload)), "server BytesWritten: the wire")
		// The client's close_notify ends the server's TLS reads before the
		// tracked conn under TLS reads the TCP FIN: PeerClosed stays false.
	})

	t.Run("tls.Client over the dialer", func(t *testing.T) {
		cliRec := newRecorder()
		d := dialer.New(trackedconn.WithHook(cliRec))
		raw, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		require.NoError(t, err)
		cfg := clientCfg.Clone()
		cfg.ServerName = "127.0.0.1"
		echo(t, tls.Client(raw, cfg), payload)

		cs := <-cliRec.closed
		assert.Greater(t, cs.BytesWritten, int64(len(payload)), "client BytesWritten: the wire")
		assert.Greater(t, cs.BytesRead, int64(len(payload)), "client BytesRead: the wire")
		ss := <-srvRec.closed
		assert.Equal(t, ss.BytesRead, cs.BytesWritten, "what the client wrote is what the server read")
	})

	require.NoError(t, ln.Shutdown(context.Background()))
	srv.wait()
	assert.Equal(t, uint64(2), ln.Stats().Closed)
}
