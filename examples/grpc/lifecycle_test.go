package main

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// lingerZero is a listener whose conns close with SO_LINGER 0: their Close
// sends RST, as the kernel does for a process that dies with unread data.
type lingerZero struct{ net.Listener }

func (l lingerZero) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	return c, err
}

// forceClose closes srv's listener and force-closes its conns under the
// grpc.Server's feet, as if the server had vanished.
func forceClose(t *testing.T, srv *server) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, srv.ln.Shutdown(ctx), context.Canceled, "Shutdown with a canceled context force-closes")
}

// events records the events of conns by ID.
type events struct {
	mu     sync.Mutex
	byConn map[uint64][]trackedconn.Event
}

func (e *events) ConnEvent(ev trackedconn.Event, s trackedconn.State) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byConn[s.ID] = append(e.byConn[s.ID], ev)
}

func (e *events) of(id uint64) []trackedconn.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.byConn[id])
}

func TestCloseCauses(t *testing.T) {
	local := []trackedconn.Cause{trackedconn.CauseLocal}
	// The end that did not close sees the other's FIN (peer) or, where the
	// closer's socket still held bytes it had not read, or where a write
	// crossed the close, an RST (reset): the kernel decides, so both are
	// allowed there.
	peerOrReset := []trackedconn.Cause{trackedconn.CausePeer, trackedconn.CauseReset}
	tests := []struct {
		name   string
		linger bool // the server's conns close with RST
		end    func(t *testing.T, srv *server, cc *grpc.ClientConn)
		// Causes allowed on each side.
		client, server []trackedconn.Cause
		clientReset    bool // the client's State.Reset must be set
	}{{
		// The client's transport closes its conn (local); the server's
		// reader sees EOF.
		name:   "client closes ClientConn",
		end:    func(t *testing.T, _ *server, cc *grpc.ClientConn) { require.NoError(t, cc.Close()) },
		client: local,
		server: peerOrReset,
	}, {
		// GracefulStop sends GOAWAY then a PING; a client with no active
		// stream closes its transport on the GOAWAY (local), without
		// answering the PING, and the server's reader sees that EOF. The
		// server does not close first: it waits for the PING's ack or for
		// its reader to end. So with GracefulStop it is the client that
		// closes.
		name:   "server GracefulStop",
		end:    func(_ *testing.T, srv *server, _ *grpc.ClientConn) { srv.GracefulStop() },
		client: local,
		server: peerOrReset,
	}, {
		// Stop closes the server's transports at once (local).
		name:   "server Stop",
		end:    func(_ *testing.T, srv *server, _ *grpc.ClientConn) { srv.Stop() },
		client: peerOrReset,
		server: local,
	}, {
		// The listener's Shutdown force-closes the conns under the
		// grpc.Server (local).
		name:   "server vanishes",
		end:    func(t *testing.T, srv *server, _ *grpc.ClientConn) { forceClose(t, srv) },
		client: peerOrReset,
		server: local,
	}, {
		// As above, with SO_LINGER 0: the server's Close sends RST only.
		// The client sees the reset; its Cause is reset, or peer when its
		// writer goroutine got the ECONNRESET and its reader, at the same
		// moment, the io.EOF that Linux returns after a reported reset,
		// and the EOF was recorded first.
		name:        "server vanishes with RST",
		linger:      true,
		end:         func(t *testing.T, srv *server, _ *grpc.ClientConn) { forceClose(t, srv) },
		client:      peerOrReset,
		server:      local,
		clientReset: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := hooks.New()
			evs := &events{byConn: map[uint64][]trackedconn.Event{}}
			reg.Add(evs)
			closed := make(closes, 4)
			reg.OnClose(func(s trackedconn.State) { closed <- s })

			raw, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err, "Listen")
			if tt.linger {
				raw = lingerZero{raw}
			}
			srv := serveOn(listener.Wrap(raw, trackedconn.WithName("srv"), trackedconn.WithHook(reg)))
			d := dialer.New(trackedconn.WithName("cli"), trackedconn.WithHook(reg))
			cc, err := newClient(srv.ln.Addr().String(), d)
			require.NoError(t, err, "NewClient")
			defer func() {
				_ = cc.Close() // a second Close returns a Canceled status
				srv.Stop()
				_ = srv.wait()
			}()
			require.NoError(t, check(cc), "health check")
			require.Len(t, srv.ln.Conns(), 1, "server conns after the check")
			require.Len(t, d.Conns(), 1, "client conns after the check")

			tt.end(t, srv, cc)

			got, err := closed.wait(2)
			require.NoError(t, err, "both ends' EventClose")
			require.Contains(t, got, trackedconn.SideClient, "a client-side EventClose")
			require.Contains(t, got, trackedconn.SideServer, "a server-side EventClose")
			cli, sv := got[trackedconn.SideClient], got[trackedconn.SideServer]
			t.Logf("client: cause %s, events %v; server: cause %s, events %v",
				cli.Cause, evs.of(cli.ID), sv.Cause, evs.of(sv.ID))

			assert.Equal(t, "cli", cli.Name, "client conn name")
			assert.Equal(t, "srv", sv.Name, "server conn name")
			assert.Contains(t, tt.client, cli.Cause, "client-side Cause")
			assert.Contains(t, tt.server, sv.Cause, "server-side Cause")
			if tt.clientReset {
				assert.True(t, cli.Reset, "client State.Reset after the server's RST")
			}
			for _, s := range []trackedconn.State{cli, sv} {
				assert.True(t, s.Closed, "%s: State.Closed", s.Side)
				assert.Positive(t, s.BytesRead, "%s: bytes read", s.Side)
				assert.Positive(t, s.BytesWritten, "%s: bytes written", s.Side)
				ev := evs.of(s.ID)
				require.NotEmpty(t, ev, "%s: events", s.Side)
				assert.Equal(t, trackedconn.EventOpen, ev[0], "%s: first event", s.Side)
				assert.Equal(t, trackedconn.EventClose, ev[len(ev)-1], "%s: last event", s.Side)
				switch s.Cause {
				case trackedconn.CausePeer:
					assert.Contains(t, ev, trackedconn.EventPeerClosed, "%s: a peer-closed conn saw EOF", s.Side)
				case trackedconn.CauseReset:
					assert.Contains(t, ev, trackedconn.EventReset, "%s: a reset conn saw the reset", s.Side)
				}
			}
			assert.Empty(t, srv.ln.Conns(), "server conns left")
			assert.Empty(t, d.Conns(), "client conns left")
		})
	}
}
