package listener

import (
	"context"
	"net"

	"github.com/connwatch/connwatch/trackedconn"
)

// Probe probes every live conn of the listener, oldest first, as
// trackedconn.Group.Probe does.
func (l *Listener) Probe() []trackedconn.Probed { return l.group.Probe() }

// CloseIf probes every live conn of the listener and closes those for which
// fn returns true, as trackedconn.Group.CloseIf does; it returns how many it
// closed.
func (l *Listener) CloseIf(fn func(trackedconn.Probed) bool) int { return l.group.CloseIf(fn) }

// ConnContext is for http.Server.ConnContext: it puts the tracked conn of
// each new connection into the context of its requests, where handlers find
// it with trackedconn.FromContext(r.Context()). It finds the tracked conn
// also beneath a *tls.Conn (an HTTPS server hands ConnContext the TLS
// conn). A conn that is not tracked leaves ctx as it is.
//
//	srv := &http.Server{Handler: h, ConnContext: listener.ConnContext}
//	srv.Serve(ln) // ln from listener.Listen
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	for range 8 { // wrappers of wrappers, but never a cycle
		switch v := c.(type) {
		case *trackedconn.Conn:
			return trackedconn.NewContext(ctx, v)
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return ctx
		}
	}
	return ctx
}
