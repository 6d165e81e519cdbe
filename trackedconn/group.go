package trackedconn

import (
	"sync"
	"time"

	"go.uber.org/atomic"
)

// Group is a live set of tracked conns, with cumulative counters. A conn
// given WithGroup(g) is in g from wrap until its first Close (or until the
// leak detector reclaims it). A zero Group is ready to use. A Group holds the
// conns' internal state, never the *Conn: with leak detection that state is
// apart from the *Conn, so a conn dropped without Close becomes unreachable
// and is reclaimed (without it, a dropped conn stays listed until Close).
//
// Group is safe for concurrent use.
type Group struct {
	mu         sync.Mutex
	head, tail *core // oldest first
	n          int

	opened   atomic.Uint64
	closed   atomic.Uint64
	nread    atomic.Uint64
	nwritten atomic.Uint64
}

// Stats are cumulative counters of a Group (or of a listener or dialer).
type Stats struct {
	Opened       uint64 // conns that joined
	Active       uint64 // conns live now: Opened - Closed
	Closed       uint64 // conns that closed or leaked
	BytesRead    uint64 // bytes read by every conn the group saw
	BytesWritten uint64 // bytes written by every conn the group saw
}

// add links s into the group; Wrap counted it in opened before EventOpen.
func (g *Group) add(s *core) {
	g.mu.Lock()
	s.prev = g.tail
	if g.tail != nil {
		g.tail.next = s
	} else {
		g.head = s
	}
	g.tail = s
	g.n++
	g.mu.Unlock()
}

func (g *Group) remove(s *core) {
	g.mu.Lock()
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		g.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		g.tail = s.prev
	}
	s.prev, s.next = nil, nil
	g.n--
	g.mu.Unlock()
	g.closed.Inc()
}

// live returns the live conns' cores, oldest first.
func (g *Group) live() []*core {
	g.mu.Lock()
	out := make([]*core, 0, g.n)
	for s := g.head; s != nil; s = s.next {
		out = append(out, s)
	}
	g.mu.Unlock()
	return out
}

// Conns returns a snapshot of the live conns, oldest first.
func (g *Group) Conns() []State {
	return g.Select(nil)
}

// Select returns a snapshot of the live conns for which keep returns true
// (all of them if keep is nil), oldest first. keep runs without the group's
// lock held.
func (g *Group) Select(keep func(State) bool) []State {
	cores := g.live()
	out := make([]State, 0, len(cores))
	for _, s := range cores {
		st := s.state()
		if keep == nil || keep(st) {
			out = append(out, st)
		}
	}
	return out
}

// Stats returns the group's counters. It costs a few atomic loads.
func (g *Group) Stats() Stats {
	closed := g.closed.Load() // before opened, so that Active never underflows
	opened := g.opened.Load()
	return Stats{
		Opened:       opened,
		Active:       opened - closed,
		Closed:       closed,
		BytesRead:    g.nread.Load(),
		BytesWritten: g.nwritten.Load(),
	}
}

// CloseAll closes every conn live in the group, each as its Close would
// (the Cause is decided the same way, EventClose fires once, after the
// inner Close), and returns how many it closed. Conns whose Close has
// already begun elsewhere are skipped; conns that join while CloseAll runs
// may stay open. It is for shutting down servers (listener.Shutdown) and
// clients.
func (g *Group) CloseAll() int {
	n := 0
	for _, s := range g.live() {
		if first, _ := s.close(); first {
			n++
		}
	}
	return n
}

// OlderThan returns the live conns opened more than d ago, oldest first.
func (g *Group) OlderThan(d time.Duration) []State {
	return g.Select(func(s State) bool { return s.Age() > d })
}

// IdleFor returns the live conns that have moved no byte, in either
// direction, for more than d, oldest first. A conn that never moved a byte
// is idle since it was opened.
func (g *Group) IdleFor(d time.Duration) []State {
	now := time.Now()
	return g.Select(func(s State) bool { return now.Sub(s.LastActive()) > d })
}

// LastActive returns the latest of OpenedAt, LastReadAt and LastWriteAt.
func (s State) LastActive() time.Time {
	t := s.OpenedAt
	if s.LastReadAt.After(t) {
		t = s.LastReadAt
	}
	if s.LastWriteAt.After(t) {
		t = s.LastWriteAt
	}
	return t
}
