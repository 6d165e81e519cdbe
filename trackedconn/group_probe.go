package trackedconn

// Probed is a live conn as Group.Probe found it: its State, Probe's answer
// and the kernel's view read by the same probe.
type Probed struct {
	State    State
	Liveness Liveness
	TCP      *TCPInfo // the kernel's view read by the same probe; nil where there is none
}

// Probe probes every live conn of the group, oldest first, as their Probe
// would (recording a FIN or reset it finds), and returns each with its
// State taken after the probe. It reaches the conns held inside pools
// (http.Transport, database/sql, go-redis, pgx) that the program never holds
// itself. It never blocks on a conn and never reads from one; it costs one
// probe per conn.
func (g *Group) Probe() []Probed {
	cores := g.live()
	out := make([]Probed, len(cores))
	for i, s := range cores {
		out[i] = s.probed()
	}
	return out
}

// probed probes s once and returns what it found.
func (s *core) probed() Probed {
	var (
		ti TCPInfo
		p  Probed
	)
	l, ok := s.probeFull(&ti, false)
	p.Liveness = l
	if ok {
		p.TCP = &ti
	}
	p.State = s.state()
	return p
}

// CloseIf probes every live conn of the group, oldest first, and closes
// those for which fn returns true, each as its Close would (the Cause is
// decided the same way; EventClose fires once). It returns how many it
// closed. fn runs without the group's lock held; conns whose Close began
// elsewhere meanwhile are not counted. Use it to reap the stalled or
// peer-closed conns of a pool:
//
//	g.CloseIf(func(p trackedconn.Probed) bool {
//		return p.Liveness == trackedconn.LivenessStalled || p.Liveness == trackedconn.LivenessPeerClosed
//	})
//
// The pool finds the closed conn broken at its next use (or its own check)
// and replaces it.
func (g *Group) CloseIf(fn func(Probed) bool) int {
	if fn == nil {
		panic("trackedconn: Group.CloseIf(nil)")
	}
	n := 0
	for _, s := range g.live() {
		if !fn(s.probed()) {
			continue
		}
		if first, _ := s.close(); first {
			n++
		}
	}
	return n
}
