// Package dialer complements net.Dialer with a dialer that hands out
// tracked conns: each dialed conn is a *trackedconn.Conn with Side
// trackedconn.SideClient, kept in the dialer's live set until it closes.
//
// Dialer.DialContext has the signature that http.Transport.DialContext and
// grpc.WithContextDialer take, so the conns that a client library opens
// behind its pool become visible: Stats().Opened tells whether an
// http.Client reuses its conns, Conns lists the live ones with their ages
// and byte counts, and Failures counts failed dials by kind.
//
//	d := dialer.New(trackedconn.WithName("backend"))
//	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
//	...
//	fmt.Println(d.Stats().Opened, "conns dialed")
//
// Wrap tracks the conns of any dial function: a net.Dialer with timeouts, a
// tls.Dialer, a SOCKS or other proxy dialer.
//
// WithName names the conn of one dial through its context. OlderThan,
// IdleFor and Select list the live conns a pool holds too long. Observe
// tells a DialObserver when each dial starts and when one fails, which is
// how contrib/prometheus counts attempts in flight.
//
// # Zero values and concurrency
//
// A zero Dialer is ready to use and dials with a zero net.Dialer, like
// New(). A Dialer is safe for concurrent use.
//
// # Limits
//
// A conn is in one trackedconn.Group: a Dialer's conns are in its own
// group, and a trackedconn.WithGroup given to New or Wrap is overridden.
// The tracked conn wraps what the dial function returns: under a tls.Dialer
// it counts plaintext bytes, not the bytes on the wire (see Wrap). A
// Dialer does not close its conns; their users (an http.Transport's
// CloseIdleConnections, say) do.
package dialer
