package dialer

import (
	"context"
	"sync"

	"github.com/connwatch/connwatch/trackedconn"
)

// nameKey is the context key of WithName.
type nameKey struct{}

// WithName returns a copy of ctx that names the conn a Dialer dials with
// it: the conn's State.Name is name instead of the Dialer's
// trackedconn.WithName, for its hooks, Conns and metrics, and DialObservers
// see name. It is the per-call dialer name of go-conntrack's
// DialNameToContext. An empty name leaves the Dialer's own name.
//
//	ctx = dialer.WithName(ctx, "payments")
//	resp, err := client.Do(req.WithContext(ctx)) // a new conn is named "payments"
//
// Only a conn dialed with ctx takes the name: an http.Transport that
// reuses a pooled conn does not dial, and the pooled conn keeps the name
// it was dialed with.
func WithName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, nameKey{}, name)
}

// NameFromContext returns the name that WithName put in ctx, and whether
// there is one that is not empty.
func NameFromContext(ctx context.Context) (string, bool) {
	name, _ := ctx.Value(nameKey{}).(string)
	return name, name != ""
}

// namedOptions caches, per name from WithName, the Dialer's merged option
// plus trackedconn.WithName(name), so that a named dial builds its
// configuration once per name, not once per conn.
type namedOptions struct {
	m sync.Map // string -> trackedconn.Option
}

// get returns base with the conn name overridden by name.
func (n *namedOptions) get(base trackedconn.Option, name string) trackedconn.Option {
	if o, ok := n.m.Load(name); ok {
		return o.(trackedconn.Option)
	}
	o, _ := n.m.LoadOrStore(name, trackedconn.Options(base, trackedconn.WithName(name)))
	return o.(trackedconn.Option)
}
