// Package connz serves the live conns of listeners, dialers and groups as a
// web page, JSON and text, for any mux, the way net/http/pprof serves
// profiles:
//
//	mux.Handle("/debug/conns", connz.Handler(ln, d)) // ln from listener.Listen, d from dialer.New
//
// The page has a summary per source (opened, active, closed, bytes) and one
// row per live conn: id, name, side, local and remote address, age, idle
// time, bytes each way, flags, Probe's liveness (stalled, peer-closed and
// reset rows stand out) and, where the kernel has them, RTT and
// retransmits. It is server-rendered HTML and needs no JavaScript.
//
// # Query parameters
//
//	format=html|json|text  html by default; json is {"stats": ..., "conns": [...]};
//	                       text is aligned columns for curl
//	sort=age|idle|bytes|rtt|id
//	                       oldest, idlest, biggest (read+written), slowest first,
//	                       lowest id first; age by default
//	liveness=NAME          only the conns Probe found so ("stalled", "peer-closed", ...)
//	name=NAME              only the conns of that name (trackedconn.WithName)
//	source=NAME            only the conns of that source (see Named)
//	id=N                   one conn: every State field, its TCPInfo and, with
//	                       trackedconn.WithLeakDetection, the stack that opened it
//	limit=N                list at most N conns (1000 by default); the rest are
//	                       counted, not listed
//
// A bad or unknown parameter gets 400 Bad Request with a one-line reason.
//
// # Cost and safety
//
// A request calls each source's Probe once: one non-blocking, non-consuming
// probe per live conn. The handler never reads from a conn and never blocks on
// one. Names, addresses and stacks come from users and peers: the HTML is
// escaped by html/template, the JSON by encoding/json, and the text format
// quotes any value with spaces or control characters. The HTML page sends a
// Content-Security-Policy that allows no script.
//
// Mount it where only operators may reach it: it shows the addresses and
// names of every live conn.
package connz
