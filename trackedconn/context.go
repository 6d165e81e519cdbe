package trackedconn

import "context"

// ctxKey is the context key of NewContext.
type ctxKey struct{}

// NewContext returns a copy of ctx that carries c, for FromContext.
// listener.ConnContext does this for every conn of an http.Server.
func NewContext(ctx context.Context, c *Conn) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the tracked conn that ctx carries (see NewContext),
// if any. An HTTP handler reaches the conn of its request with
// FromContext(r.Context()) once the server's ConnContext is
// listener.ConnContext, which finds the tracked conn also beneath the
// *tls.Conn of an HTTPS server.
func FromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Conn)
	return c, ok && c != nil
}
