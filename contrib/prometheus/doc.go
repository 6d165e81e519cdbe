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
//	c.TrackListener("api") // the listener's series at 0 from now on
//	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(c))
//	c.TrackDialer("backend", d) // dial attempts and failures
//
// The package never registers anything itself: not on
// prometheus.DefaultRegisterer, not from init. Register the Collector on the
// registry you serve.
//
// # Metrics
//
// The names, types and labels are those of github.com/mwitkow/go-conntrack,
// with the default namespace "net" and the subsystem "conntrack" (see
// WithNamespace), so its dashboards read them; where the values differ is
// said below, and checked by the conntrackcompat test module, which runs
// both libraries side by side. The side of a conn decides its family:
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
//	net_conntrack_dialer_conn_attempted_total{dialer_name}         counter  dials started (TrackDialer)
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
// cause is one of "local", "peer", "reset", "timeout", "error", "leak" and
// "stalled" (trackedconn.Cause.String). A name's series all appear at once, at 0
// (every cause, both directions, and for a tracked dialer every reason),
// when TrackListener or TrackDialer is called for it, or else at its first
// conn, so that rate() and increase() see them start.
//
// A conn counts one close, at its first Close (or when the leak detector
// reclaims it); go-conntrack counts every call of Close, so a conn closed
// twice counts twice there.
//
// The byte counters and the duration histogram are updated when a conn
// closes, from its final State: a conn that stays open for hours shows up in
// them only then. For the bytes of live conns, read Listener.Stats and
// Dialer.Stats.
//
// # Dial attempts and failures
//
// A failed dial yields no conn and so no hook event. TrackDialer observes
// a dialer.Dialer (dialer.Dialer.Observe): it counts attempted when each
// dial starts, as go-conntrack does, so attempted - established - failed
// is the number of dials in flight; and failed, with one reason, when one
// fails. A dial whose context carries a name from dialer.WithName counts
// under that name, and so does its conn (State.Name), as with go-conntrack's
// DialNameToContext. Give the dialer WithName(name) and WithHook(c) with the
// same name as TrackDialer, so that established and attempted describe the
// same conns. The reason of a failed dial:
//
//	"resolution"  name resolution failed: a *net.DNSError anywhere in the
//	              chain, also one that timed out or was canceled
//	"refused"     ECONNREFUSED: nothing listens
//	"timeout"     the dial's deadline (context, net.Dialer.Timeout or
//	              Deadline), or the kernel's connect timeout (ETIMEDOUT)
//	"unknown"     anything else: a canceled dial, an unreachable host or
//	              network, a failed TLS handshake, any other error
//
// Errors are matched with errors.Is and errors.As, so an error that a proxy
// dialer wraps with fmt.Errorf("%w") keeps its reason. Where go-conntrack
// counts differently, and why connwatch does not follow it:
//
//   - go-conntrack counts a refused dial as "refused" and "unknown", and a
//     dial that hit its deadline as "timeout" and "unknown" (its reason
//     function falls through). Here each failed dial has one reason, so the
//     sum over reasons is the number of failed dials, and "unknown" is lower.
//   - go-conntrack counts a connect that failed with the kernel's ETIMEDOUT
//     as "unknown" (it looks at the syscall error before asking Timeout()).
//     Here it is "timeout": the peer did not answer.
//   - go-conntrack counts an error that wraps a *net.OpError (a proxy
//     dialer's fmt.Errorf("%w")) as "unknown"; here the wrapped error decides.
//   - A canceled dial is "unknown" in both when it comes from a net.Dialer;
//     a dial function that returns a bare context.Canceled is "timeout" in
//     go-conntrack and "unknown" here: a cancel is the caller's choice, not
//     a slow network.
//
// dialer.Dialer.Failures counts the same dials by a finer kind (Canceled,
// DNS, Timeout, Refused, Unreachable, TLS, Other).
//
// # Concurrency and cost
//
// A Collector is safe for concurrent use. ConnEvent runs on the goroutine of
// the event; it costs one sync.Map lookup and an atomic add or two, and
// allocates only the first time a name is seen. Names should be few (one per
// listener or dialer, not per peer): each name makes a set of series.
package prometheus
