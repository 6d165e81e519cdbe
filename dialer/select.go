package dialer

import (
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// Select returns a snapshot of the live dialed conns for which keep returns
// true (all of them if keep is nil), oldest first. keep runs without the
// Dialer's lock held. See trackedconn.Group.Select.
func (d *Dialer) Select(keep func(trackedconn.State) bool) []trackedconn.State {
	return d.group.Select(keep)
}

// OlderThan returns the live dialed conns opened more than age ago, oldest
// first: the conns a pool has held the longest.
func (d *Dialer) OlderThan(age time.Duration) []trackedconn.State {
	return d.group.OlderThan(age)
}

// IdleFor returns the live dialed conns that have moved no byte, in either
// direction, for more than idle, oldest first: idle pooled conns, or
// conns checked out and forgotten.
func (d *Dialer) IdleFor(idle time.Duration) []trackedconn.State {
	return d.group.IdleFor(idle)
}
