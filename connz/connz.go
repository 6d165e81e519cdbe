// Package connz serves the live conns of listeners, dialers and groups as
// an HTML page, JSON and text, for any mux, the way net/http/pprof serves
// profiles.
package connz

import (
	"encoding/json"
	"net/http"

	"github.com/connwatch/connwatch/trackedconn"
)

// Source is a live set of tracked conns: *listener.Listener,
// *dialer.Dialer and *trackedconn.Group are Sources.
type Source interface {
	Probe() []trackedconn.Probed
	Stats() trackedconn.Stats
}

// Handler serves the live conns of sources.
func Handler(sources ...Source) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out []trackedconn.Probed
		for _, s := range sources {
			out = append(out, s.Probe()...)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}
