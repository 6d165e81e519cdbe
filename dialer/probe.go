package dialer

import "github.com/connwatch/connwatch/trackedconn"

// Probe probes every live conn the dialer dialed, oldest first, as
// trackedconn.Group.Probe does. It reaches the conns held inside the pools
// the dialer feeds (http.Transport, database/sql, go-redis, pgx).
func (d *Dialer) Probe() []trackedconn.Probed { return d.group.Probe() }

// CloseIf probes every live conn the dialer dialed and closes those for
// which fn returns true, as trackedconn.Group.CloseIf does; it returns how
// many it closed. The pool holding a closed conn finds it broken at its
// next use or check, and dials a new one.
func (d *Dialer) CloseIf(fn func(trackedconn.Probed) bool) int { return d.group.CloseIf(fn) }
