package connz

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

// Source is a live set of tracked conns: *listener.Listener,
// *dialer.Dialer and *trackedconn.Group are Sources.
type Source interface {
	Probe() []trackedconn.Probed
	Stats() trackedconn.Stats
}

// Field is a value that a Source adds to each of its conns (see Annotator).
type Field struct {
	Key   string // a column heading in the page and text, a key in the JSON conn
	Value any    // printed with fmt.Sprint; marshaled with encoding/json
}

// Annotator is a Source that adds fields of its own to its conns, such as
// the proxy pair a conn belongs to. Annotate runs once per listed conn of a
// request and must not block. Its keys come first in the page and the text
// columns, and join the built-in keys of each JSON conn; a field whose key is
// a built-in one ("id", "name", ...) is left out.
type Annotator interface {
	Source
	Annotate(p trackedconn.Probed) []Field
}

// Named names a source on the page and in the JSON. Without it a source
// with an Addr method (a *listener.Listener) is "listener ADDR", a
// *dialer.Dialer is "dialer" and any other source "group".
func Named(name string, s Source) Source { return named{name, s} }

type named struct {
	name string
	Source
}

func (n named) Annotate(p trackedconn.Probed) []Field {
	if a, ok := n.Source.(Annotator); ok {
		return a.Annotate(p)
	}
	return nil
}

// DefaultLimit is how many conns a request lists without ?limit=.
const DefaultLimit = 1000

// Handler serves the live conns of sources as HTML, JSON or text (see the
// package doc for the query parameters). It answers GET and HEAD.
func Handler(sources ...Source) http.Handler {
	h := &handler{sources: slices.Clone(sources)}
	seen := map[string]int{}
	for _, s := range sources {
		name := sourceName(s)
		seen[name]++
		if n := seen[name]; n > 1 {
			name = fmt.Sprintf("%s #%d", name, n)
		}
		h.names = append(h.names, name)
	}
	return h
}

func sourceName(s Source) string {
	switch v := s.(type) {
	case named:
		return v.name
	case interface{ Addr() net.Addr }:
		return "listener " + v.Addr().String()
	case *dialer.Dialer:
		return "dialer"
	default:
		return "group"
	}
}

type handler struct {
	sources []Source
	names   []string
}

// row is one live conn of a snapshot.
type row struct {
	trackedconn.Probed
	src   int // index of the source (in snapshot.sources, for its name)
	age   time.Duration
	idle  time.Duration
	extra []Field
}

// sourceStats is the summary of one source.
type sourceStats struct {
	Name string
	trackedconn.Stats
}

// snapshot is what one request shows.
type snapshot struct {
	q        query
	now      time.Time
	sources  []sourceStats
	total    trackedconn.Stats
	live     int            // conns probed
	liveness map[string]int // conns probed, by liveness
	matched  int            // conns that pass the filters
	rows     []row          // the listed conns: matched, sorted, limited
	extra    []string       // the keys of the rows' fields, in first-seen order
}

// source returns the name of r's source.
func (snap *snapshot) source(r *row) string { return snap.sources[r.src].Name }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "connz: method "+r.Method+" not allowed", http.StatusMethodNotAllowed)
		return
	}
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	snap := h.snapshot(q, time.Now())
	if q.id != 0 && len(snap.rows) == 0 {
		http.Error(w, fmt.Sprintf("connz: no live conn with id %d", q.id), http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch q.format {
	case "json":
		w.Header().Set("Content-Type", "application/json")
		w.Write(renderJSON(snap))
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		renderText(w, snap)
	default:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'")
		renderHTML(w, snap) // an error is the client's going away: the template is fixed
	}
}

// snapshot probes every source once and keeps the conns q asks for.
func (h *handler) snapshot(q query, now time.Time) *snapshot {
	snap := &snapshot{q: q, now: now, liveness: map[string]int{}}
	probed := make([][]trackedconn.Probed, len(h.sources))
	n := 0
	for i, s := range h.sources {
		probed[i] = s.Probe()
		n += len(probed[i])
	}
	rows := make([]row, 0, n)
	for i, s := range h.sources {
		st := s.Stats()
		snap.sources = append(snap.sources, sourceStats{h.names[i], st})
		snap.total.Opened += st.Opened
		snap.total.Active += st.Active
		snap.total.Closed += st.Closed
		snap.total.BytesRead += st.BytesRead
		snap.total.BytesWritten += st.BytesWritten
		for _, p := range probed[i] {
			snap.live++
			snap.liveness[p.Liveness.String()]++
			if !q.keep(h.names[i], p) {
				continue
			}
			rows = append(rows, row{
				Probed: p,
				src:    i,
				age:    now.Sub(p.State.OpenedAt),
				idle:   now.Sub(p.State.LastActive()),
			})
		}
	}
	snap.matched = len(rows)
	rows = sortRows(rows, q.sort, q.limit)
	seen := map[string]bool{}
	for i := range rows {
		a, ok := h.sources[rows[i].src].(Annotator)
		if !ok {
			continue
		}
		for _, f := range a.Annotate(rows[i].Probed) {
			if builtinKeys[f.Key] {
				continue
			}
			rows[i].extra = append(rows[i].extra, f)
			if !seen[f.Key] {
				seen[f.Key] = true
				snap.extra = append(snap.extra, f.Key)
			}
		}
	}
	snap.rows = rows
	return snap
}

// field returns the value of the field key of r, or nil.
func (r *row) field(key string) any {
	for _, f := range r.extra {
		if f.Key == key {
			return f.Value
		}
	}
	return nil
}

// sortRows returns the first limit rows sorted by key, the biggest
// outliers first; ties go to the lower id.
func sortRows(rows []row, key string, limit int) []row {
	var by func(a, b *row) int
	switch key {
	case "idle":
		by = func(a, b *row) int { return cmp.Compare(b.idle, a.idle) }
	case "bytes":
		by = func(a, b *row) int {
			return cmp.Compare(b.State.BytesRead+b.State.BytesWritten, a.State.BytesRead+a.State.BytesWritten)
		}
	case "rtt":
		by = func(a, b *row) int { return cmp.Compare(rtt(b), rtt(a)) }
	case "id":
		by = func(a, b *row) int { return 0 }
	default: // age
		by = func(a, b *row) int { return a.State.OpenedAt.Compare(b.State.OpenedAt) }
	}
	ptrs := make([]*row, len(rows))
	for i := range rows {
		ptrs[i] = &rows[i]
	}
	slices.SortFunc(ptrs, func(a, b *row) int {
		if c := by(a, b); c != 0 {
			return c
		}
		return cmp.Compare(a.State.ID, b.State.ID)
	})
	out := make([]row, min(len(rows), limit))
	for i := range out {
		out[i] = *ptrs[i]
	}
	return out
}

// rtt is the conn's smoothed RTT, -1 where the kernel has none.
func rtt(r *row) time.Duration {
	if r.TCP == nil {
		return -1
	}
	return r.TCP.RTT
}
