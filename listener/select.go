package listener

import (
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// Select returns a snapshot of the live accepted conns for which keep
// returns true (all of them if keep is nil), oldest first. keep runs
// without the Listener's lock held. See trackedconn.Group.Select.
func (l *Listener) Select(keep func(trackedconn.State) bool) []trackedconn.State {
	return l.group.Select(keep)
}

// OlderThan returns the live accepted conns opened more than age ago,
// oldest first.
func (l *Listener) OlderThan(age time.Duration) []trackedconn.State {
	return l.group.OlderThan(age)
}

// IdleFor returns the live accepted conns that have moved no byte, in
// either direction, for more than idle, oldest first: clients that hold a
// conn open and silent.
func (l *Listener) IdleFor(idle time.Duration) []trackedconn.State {
	return l.group.IdleFor(idle)
}
