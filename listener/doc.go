// Package listener complements net.Listener (and golang.org/x/net/netutil)
// with a listener that hands out tracked conns: each accepted conn is a
// *trackedconn.Conn with Side trackedconn.SideServer, kept in the
// listener's live set from Accept until it closes.
//
// A Listener drops in wherever a net.Listener goes: http.Server.Serve,
// grpc.Server.Serve, tls.NewListener (the tracked conn is then under the
// TLS conn, so byte counts are the bytes on the wire). Conns and Stats show
// the live conns and the counters; Shutdown drains a raw TCP server: stop
// accepting, wait for the conns to close, force-close the rest when the
// context ends.
//
//	ln, err := listener.Listen("tcp", ":8080", trackedconn.WithName("api"))
//	...
//	go srv.Serve(ln)
//	...
//	fmt.Println(ln.Stats().Active, "live conns")
//
// # Zero values and concurrency
//
// Create a Listener with Listen or Wrap; a zero Listener is not usable. A
// Listener is safe for concurrent use: Accept, Close, Shutdown, Conns and
// Stats may be called from any goroutine.
//
// # Limits
//
// A conn is in one trackedconn.Group: a Listener's conns are in its own
// group, and a trackedconn.WithGroup given to Listen or Wrap is overridden.
// A conn that the wrapped listener already returns tracked (a
// *trackedconn.Conn) is handed out as it is, outside the Listener's group.
// Conns that the user hijacks (http.Hijacker) stay tracked: the hijacked
// net.Conn is the tracked conn.
//
// Under TLS (tls.NewListener over a Listener), a peer's close_notify ends
// the TLS conn's reads before the tracked conn under it reads the TCP FIN:
// such a conn usually ends with Cause trackedconn.CauseLocal, not
// trackedconn.CausePeer.
//
// Shutdown waits for the conns' EventClose hooks, which must not block.
package listener
