package hooks

import (
	"encoding/json"
	"expvar"
	"sync"
	"sync/atomic"

	"github.com/connwatch/connwatch/trackedconn"
)

// numCauses is the number of trackedconn causes.
const numCauses = int(trackedconn.CauseStalled) + 1

// Counters is a hook that counts conn events: conns opened, closed (by
// Cause), peer-closed, reset, half-closed and leaked, in total and per
// State.Name. It is an expvar.Var: expvar.Publish("conns", c) serves its
// Snapshot as JSON.
//
// Counting is a few atomic adds per event and does not allocate, except the
// first time a name is seen. A zero Counters is ready to use. Counters is
// safe for concurrent use; it must not be copied after first use.
type Counters struct {
	total counts
	mu    sync.Mutex                         // serializes writers of names
	names atomic.Pointer[map[string]*counts] // copy-on-write; nil: no name yet
}

var (
	_ trackedconn.Hook = (*Counters)(nil)
	_ expvar.Var       = (*Counters)(nil)
)

type counts struct {
	opened     atomic.Uint64
	closed     [numCauses]atomic.Uint64
	peerClosed atomic.Uint64
	resets     atomic.Uint64
	readShuts  atomic.Uint64
	writeShuts atomic.Uint64
	leaks      atomic.Uint64
}

// NewCounters returns a Counters with every count zero.
func NewCounters() *Counters { return new(Counters) }

// ConnEvent counts e in the total and, if s.Name is not empty, under
// s.Name.
func (c *Counters) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	c.total.add(e, s)
	if s.Name != "" {
		c.named(s.Name).add(e, s)
	}
}

func (n *counts) add(e trackedconn.Event, s trackedconn.State) {
	switch e {
	case trackedconn.EventOpen:
		n.opened.Add(1)
	case trackedconn.EventClose:
		if int(s.Cause) < numCauses {
			n.closed[s.Cause].Add(1)
		}
	case trackedconn.EventPeerClosed:
		n.peerClosed.Add(1)
	case trackedconn.EventReset:
		n.resets.Add(1)
	case trackedconn.EventReadShut:
		n.readShuts.Add(1)
	case trackedconn.EventWriteShut:
		n.writeShuts.Add(1)
	case trackedconn.EventLeak:
		n.leaks.Add(1)
	}
}

// named returns the counts of name, adding them on first use.
func (c *Counters) named(name string) *counts {
	if m := c.names.Load(); m != nil {
		if n, ok := (*m)[name]; ok {
			return n
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.names.Load()
	if old != nil {
		if n, ok := (*old)[name]; ok {
			return n
		}
	}
	m := make(map[string]*counts, 1+len(ptrMap(old)))
	for k, v := range ptrMap(old) {
		m[k] = v
	}
	n := new(counts)
	m[name] = n
	c.names.Store(&m)
	return n
}

func ptrMap(m *map[string]*counts) map[string]*counts {
	if m == nil {
		return nil
	}
	return *m
}

// ConnCounts are the counts of a set of conns.
type ConnCounts struct {
	Opened     uint64            `json:"opened"`      // EventOpen
	Active     uint64            `json:"active"`      // Opened - Closed (0 if negative), at the time of the snapshot
	Closed     uint64            `json:"closed"`      // EventClose, every cause
	ClosedBy   map[string]uint64 `json:"closed_by"`   // EventClose by Cause.String(); causes never seen are absent
	PeerClosed uint64            `json:"peer_closed"` // EventPeerClosed
	Resets     uint64            `json:"resets"`      // EventReset
	ReadShuts  uint64            `json:"read_shuts"`  // EventReadShut (CloseRead)
	WriteShuts uint64            `json:"write_shuts"` // EventWriteShut (CloseWrite)
	Leaks      uint64            `json:"leaks"`       // EventLeak
}

// CountersSnapshot is a copy of a Counters' counts.
type CountersSnapshot struct {
	Total  ConnCounts            `json:"total"`   // every conn
	ByName map[string]ConnCounts `json:"by_name"` // conns with a State.Name, by name
}

// Snapshot returns a copy of the counts. Each count is read atomically; the
// snapshot as a whole is not, so it may catch a conn counted in Opened and
// not yet in Closed, never the reverse.
func (c *Counters) Snapshot() CountersSnapshot {
	s := CountersSnapshot{Total: c.total.snapshot(), ByName: map[string]ConnCounts{}}
	for name, n := range ptrMap(c.names.Load()) {
		s.ByName[name] = n.snapshot()
	}
	return s
}

func (n *counts) snapshot() ConnCounts {
	cc := ConnCounts{ClosedBy: map[string]uint64{}}
	for cause := range n.closed {
		if v := n.closed[cause].Load(); v != 0 {
			cc.ClosedBy[trackedconn.Cause(cause).String()] = v
			cc.Closed += v
		}
	}
	// Opened after Closed: a conn closes after it opened, so Active does
	// not underflow. It can, if the Counters was attached (Registry.Add)
	// after some conns opened; Active is then 0.
	cc.Opened = n.opened.Load()
	if cc.Opened > cc.Closed {
		cc.Active = cc.Opened - cc.Closed
	}
	cc.PeerClosed = n.peerClosed.Load()
	cc.Resets = n.resets.Load()
	cc.ReadShuts = n.readShuts.Load()
	cc.WriteShuts = n.writeShuts.Load()
	cc.Leaks = n.leaks.Load()
	return cc
}

// String returns the Snapshot as JSON, for expvar.
func (c *Counters) String() string {
	b, err := json.Marshal(c.Snapshot())
	if err != nil { // cannot happen: the snapshot holds only maps and integers
		return "{}"
	}
	return string(b)
}
