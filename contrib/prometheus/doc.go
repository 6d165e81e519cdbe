// Package prometheus complements trackedconn with Prometheus metrics: a
// Collector that is both a trackedconn.Hook and a prometheus.Collector.
//
// It lives in its own module, github.com/connwatch/connwatch/contrib/prometheus,
// so that the core module does not depend on the Prometheus client. Import it
// under another name, since its package name is that of the client library:
//
//	import connprom "github.com/connwatch/connwatch/contrib/prometheus"
//
//	c := connprom.New()
//	reg := prometheus.NewRegistry() // or your own registry
//	reg.MustRegister(c)
//
//	ln, err := listener.Listen("tcp", ":8080", trackedconn.WithName("api"), trackedconn.WithHook(c))
//	...
//	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(c))
//	c.TrackDialer("backend", d) // dial attempts and failures
//
// The package never registers anything itself: not on
// prometheus.DefaultRegisterer, not from init. Register the Collector on the
// registry you serve.
//
// # Metrics
//
// The names are those of github.com/mwitkow/go-conntrack, so its dashboards
// keep working, with the default namespace "net" and the subsystem
// "conntrack" (see WithNamespace). The side of a conn decides its family:
// accepted conns (trackedconn.SideServer) count under listener_* with the
// label listener_name, dialed conns (trackedconn.SideClient) under dialer_*
// with the label dialer_name. The label is the conn's State.Name
// (trackedconn.WithName), or "default" when it has none, as in go-conntrack.
// Conns of trackedconn.SideUnknown (a bare trackedconn.Wrap) are not counted:
// wrap them with trackedconn.WithSide to have them counted.
//
// As in go-conntrack:
//
//	net_conntrack_listener_conn_accepted_total{listener_name}      counter  conns accepted
//	net_conntrack_listener_conn_closed_total{listener_name}        counter  accepted conns closed
//	net_conntrack_dialer_conn_attempted_total{dialer_name}         counter  dials (TrackDialer)
//	net_conntrack_dialer_conn_established_total{dialer_name}       counter  conns dialed
//	net_conntrack_dialer_conn_failed_total{dialer_name,reason}     counter  failed dials (TrackDialer)
//	net_conntrack_dialer_conn_closed_total{dialer_name}            counter  dialed conns closed
//
// What go-conntrack lacks, for both families (shown for listener_*; the
// dialer_* ones carry dialer_name):
//
//	net_conntrack_listener_conn_open{listener_name}                       gauge      conns open now
//	net_conntrack_listener_conn_closed_by_cause_total{listener_name,cause} counter   closes by trackedconn.Cause
//	net_conntrack_listener_conn_peer_closed_total{listener_name}          counter    conns whose peer sent EOF
//	net_conntrack_listener_conn_half_closed_total{listener_name,direction} counter   CloseRead ("read") and CloseWrite ("write")
//	net_conntrack_listener_conn_reset_total{listener_name}                counter    conns reset (or broken pipe)
//	net_conntrack_listener_conn_leaked_total{listener_name}               counter    conns reclaimed by the leak detector
//	net_conntrack_listener_conn_read_bytes_total{listener_name}           counter    bytes read by closed conns
//	net_conntrack_listener_conn_written_bytes_total{listener_name}        counter    bytes written by closed conns
//	net_conntrack_listener_conn_duration_seconds{listener_name}           histogram  lifetime of closed conns
//
// cause is one of "local", "peer", "reset", "timeout", "error" and "leak"
// (trackedconn.Cause.String); every cause, both directions, and for a tracked
// dialer every reason are exported from the first conn of a name on, with
// value 0 until they happen, so that rate() and increase() see them start.
//
// The byte counters and the duration histogram are updated when a conn
// closes, from its final State: a conn that stays open for hours shows up in
// them only then. For the bytes of live conns, read Listener.Stats and
// Dialer.Stats.
//
// # Dial attempts and failures
//
// A failed dial yields no conn and so no hook event: the dialer counts it in
// dialer.Dialer.Failures. TrackDialer makes the Collector read a Dialer's
// counts at each scrape:
//
//	attempted = Stats().Opened + Failures().Total()
//	failed{reason} from Failures(), mapped onto go-conntrack's reasons:
//	    "resolution"  DNS
//	    "refused"     Refused
//	    "timeout"     Timeout, and Canceled (go-conntrack counts a canceled
//	                  context as a timeout too)
//	    "unknown"     Unreachable, TLS and Other
//
// Give the dialer WithName(name) and WithHook(c) with the same name as
// TrackDialer, so that established and attempted describe the same conns.
// Unlike go-conntrack, a refused dial counts once, as "refused" (go-conntrack
// also counts it as "unknown").
//
// # Concurrency and cost
//
// A Collector is safe for concurrent use. ConnEvent runs on the goroutine of
// the event; it costs one sync.Map lookup and an atomic add or two, and
// allocates only the first time a name is seen. Names should be few (one per
// listener or dialer, not per peer): each name makes a set of series.
package prometheus
