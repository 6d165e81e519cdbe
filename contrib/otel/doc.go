// Package otel complements trackedconn with OpenTelemetry metrics: Metrics is
// a trackedconn.Hook that records conn lifecycles as instruments of an
// OpenTelemetry metric.MeterProvider.
//
// It lives in its own module, github.com/connwatch/connwatch/contrib/otel, so
// that the core module does not depend on OpenTelemetry. Import it under
// another name, since its package name is that of the API:
//
//	import connotel "github.com/connwatch/connwatch/contrib/otel"
//
//	m, err := connotel.New(meterProvider) // nil: otel.GetMeterProvider()
//	...
//	ln, err := listener.Listen("tcp", ":8080", trackedconn.WithName("api"), trackedconn.WithHook(m))
//	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(m))
//	m.TrackDialer("backend", d) // dial attempts and failures
//
// # Instruments
//
// Every instrument of a conn carries the attributes connwatch.name (State.Name,
// "" when the conn has none) and connwatch.side ("server" for accepted conns,
// "client" for dialed ones, "unknown" for a bare trackedconn.Wrap):
//
//	connwatch.conn.opened       Int64Counter        {connection}  EventOpen
//	connwatch.conn.closed       Int64Counter        {connection}  EventClose, + connwatch.cause
//	connwatch.conn.active       Int64UpDownCounter  {connection}  open now: +1 at EventOpen, -1 at EventClose
//	connwatch.conn.peer_closed  Int64Counter        {connection}  EventPeerClosed (the peer's EOF)
//	connwatch.conn.half_closed  Int64Counter        {connection}  EventReadShut, EventWriteShut, + network.io.direction
//	connwatch.conn.reset        Int64Counter        {connection}  EventReset
//	connwatch.conn.leaked       Int64Counter        {connection}  EventLeak
//	connwatch.conn.io           Int64Counter        By            bytes of closed conns, + network.io.direction
//	connwatch.conn.duration     Float64Histogram    s             lifetime of closed conns
//
// connwatch.cause is trackedconn.Cause.String ("local", "peer", "reset",
// "timeout", "error", "leak"). network.io.direction is "receive" for reads
// and CloseRead, "transmit" for writes and CloseWrite. The byte counter and
// the duration histogram are recorded when a conn closes, from its final
// State; for the bytes of live conns read Listener.Stats and Dialer.Stats.
// The histogram advises the bucket boundaries DefaultDurationBoundaries
// (see WithDurationBoundaries); a View of the MeterProvider overrides them.
//
// A failed dial yields no conn and so no hook event. TrackDialer reports a
// dialer's counts, read from dialer.Dialer.Stats and Failures at each
// collection, with connwatch.name:
//
//	connwatch.dial.attempted    Int64ObservableCounter  {connection}  Stats().Opened + Failures().Total()
//	connwatch.dial.failed       Int64ObservableCounter  {connection}  Failures(), + error.type
//
// error.type is the field of dialer.Failures, in lower case: "canceled",
// "dns", "timeout", "refused", "unreachable", "tls" or "other".
//
// # Concurrency and cost
//
// Metrics is safe for concurrent use. ConnEvent runs on the goroutine of the
// event; it looks the conn's attribute sets up in a sync.Map, building them
// the first time a (name, side) pair is seen, and adds to one or a few
// instruments. Names should be few (one per listener or dialer, not per
// peer): each name makes a set of time series.
package otel
