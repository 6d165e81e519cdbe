package dialer

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/connwatch/connwatch/internal/wrapopt"
	"github.com/connwatch/connwatch/trackedconn"
)

// DialFunc is the signature of net.Dialer.DialContext, tls.Dialer.DialContext,
// proxy.ContextDialer.DialContext and http.Transport.DialContext.
type DialFunc = func(ctx context.Context, network, address string) (net.Conn, error)

// Dialer dials conns and hands them out tracked, as *trackedconn.Conn with
// Side trackedconn.SideClient, keeping the live ones in its own
// trackedconn.Group. Its DialContext method plugs into
// http.Transport.DialContext and grpc.WithContextDialer.
//
// A zero Dialer is ready to use: it dials with a zero net.Dialer and no
// options, like New(). Dialer is safe for concurrent use; it must not be
// copied after first use.
type Dialer struct {
	dial DialFunc // nil: a zero net.Dialer

	once  sync.Once
	opt   trackedconn.Option // built once: the user's options + side + group
	user  []trackedconn.Option
	group trackedconn.Group

	fails [numFailureKinds]atomic.Uint64
	obs   observers    // observe.go
	named namedOptions // name.go
}

// New returns a Dialer that dials with a zero net.Dialer and tracks each
// conn with opts (see Wrap).
func New(opts ...trackedconn.Option) *Dialer {
	d := &Dialer{user: opts}
	d.init()
	return d
}

// Wrap returns a Dialer that dials with dial and tracks each conn with
// opts, plus trackedconn.WithSide(trackedconn.SideClient). dial may be any
// dial function: a net.Dialer with timeouts, a tls.Dialer, a proxy dialer.
// The options are merged once, here, into one configuration that every
// dialed conn shares.
//
// Every dialed conn is in the Dialer's own group, which Conns and Stats
// read: a trackedconn.WithGroup among opts is overridden (a conn is in one
// group only). Hooks among opts run for every dialed conn.
//
// The tracked conn wraps what dial returns. For a tls.Dialer that is the
// *tls.Conn, so byte counts are plaintext bytes; to count the bytes on the
// wire, dial TCP with this Dialer and run TLS above the tracked conn
// (tls.Client, or an http.Transport's own TLS with DialContext set to
// DialContext). A conn that dial already returns tracked is handed out as
// it is, outside the Dialer's group.
//
// Wrap(nil) panics.
func Wrap(dial DialFunc, opts ...trackedconn.Option) *Dialer {
	if dial == nil {
		panic("dialer: Wrap(nil)")
	}
	d := &Dialer{dial: dial, user: opts}
	d.init()
	return d
}

func (d *Dialer) init() {
	d.once.Do(func() {
		all := make([]trackedconn.Option, 0, len(d.user)+3)
		all = append(all, d.user...)
		all = append(all,
			trackedconn.WithSide(trackedconn.SideClient),
			trackedconn.WithGroup(&d.group),
		)
		if d.dial == nil { // a zero net.Dialer, which dials MPTCP only if GODEBUG says so
			if o := wrapopt.PlainTCP(new(net.Dialer)); o != nil {
				all = append(all, o.(trackedconn.Option))
			}
		}
		d.opt = trackedconn.Options(all...)
		d.user = nil
	})
}

// DialContext dials address on network with the Dialer's dial function
// and returns the conn as a *trackedconn.Conn with Side
// trackedconn.SideClient; EventOpen has fired when it returns. A name put
// in ctx by WithName names the conn. The dial function's error is returned
// unchanged, and counted in Failures. A dial function that returns neither
// a conn nor an error gets a "dialer: ..." error, counted in
// Failures().Other. Observers (see Observe) see the dial start and fail.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d.init()
	name, named := NameFromContext(ctx)
	d.obs.started(name)
	var (
		c   net.Conn
		err error
	)
	if d.dial != nil {
		c, err = d.dial(ctx, network, address)
	} else {
		var nd net.Dialer
		c, err = nd.DialContext(ctx, network, address)
	}
	if err == nil && c == nil {
		err = fmt.Errorf("dialer: dial %s %s returned a nil conn and a nil error", network, address)
	}
	if err != nil {
		d.fails[kindOf(err)].Add(1)
		d.obs.failed(name, err)
		return nil, err
	}
	opt := d.opt
	if named {
		opt = d.named.get(opt, name)
	}
	return trackedconn.Wrap(c, opt), nil
}

// Dial dials as DialContext does, with context.Background().
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// Conns returns a snapshot of the live dialed conns, oldest first.
func (d *Dialer) Conns() []trackedconn.State { return d.group.Conns() }

// Stats returns the counters of the dialed conns. Failed dials are not in
// Stats; see Failures. It costs a few atomic loads.
func (d *Dialer) Stats() trackedconn.Stats { return d.group.Stats() }
