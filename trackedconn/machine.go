package trackedconn

import (
	"net"
	"time"

	"go.uber.org/atomic"

	"github.com/connwatch/connwatch/internal/errclass"
)

// Bits of core.flags. The low byte holds the State booleans; above them the
// first terminal cause seen (peer, reset, error) and the final cause.
const (
	flagClosed uint32 = 1 << iota // the first Close has begun; Cause is decided
	flagPeerClosed
	flagReadShut
	flagWriteShut
	flagReset
	flagTimedOut
	// flagEOF: nothing is left to read: a read returned io.EOF, or Probe
	// found the FIN with no data before it. flagPeerClosed without flagEOF
	// means the FIN is known (Probe saw CLOSE_WAIT) but data is still
	// waiting. Internal: State.PeerClosed is flagPeerClosed.
	flagEOF

	termShift  = 8
	causeShift = 12
	causeMask  = 0x7

	// Above the causes: how many goroutines are running the hooks of a
	// transition (at most one per event), and the progress of EventClose,
	// which must wait for them to stay the last event.
	emittingShift         = 16
	emittingOne    uint32 = 1 << emittingShift
	emittingMask   uint32 = 0x7 << emittingShift
	flagFinished   uint32 = 1 << 19 // the first Close's inner Close returned
	flagCloseFired uint32 = 1 << 20 // EventClose was fired (or is firing)
)

// epoch is the base of the monotonic timestamps kept in core.
var epoch = time.Now()

// mono returns the monotonic time since epoch, plus one so that zero means
// "never".
func mono() int64 { return int64(time.Since(epoch)) + 1 }

func monoTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return epoch.Add(time.Duration(v - 1))
}

var lastID atomic.Uint64

// getID returns the conn's ID, taking the next one on first use.
func (s *core) getID() uint64 {
	if id := s.id.Load(); id != 0 {
		return id
	}
	s.id.CompareAndSwap(0, lastID.Inc())
	return s.id.Load()
}

// core is the state of one tracked conn. Groups and the leak detector hold
// the core, never the *Conn, so that with leak detection (which allocates
// the two apart, where Wrap otherwise allocates them together) a dropped
// *Conn becomes unreachable.
type core struct {
	flags     atomic.Uint32
	nread     atomic.Int64
	nwritten  atomic.Int64
	lastRead  atomic.Int64 // mono
	lastWrite atomic.Int64 // mono
	closedAt  atomic.Int64 // mono
	rdeadline atomic.Int64 // read deadline set through the wrapper (deadlineValue)
	wdeadline atomic.Int64 // write deadline set through the wrapper (deadlineValue)

	id     atomic.Uint64 // 0 until first asked for (getID)
	opened int64         // mono
	cfg    *config
	group  *Group
	inner  net.Conn
	laddr  net.Addr
	raddr  net.Addr
	leak   *leakWatch // leak detection only

	// probe caches the descriptor Probe peeks at (see probe.go).
	probe atomic.Pointer[prober]

	prev, next *core // Group list, guarded by group.mu
}

func (s *core) state() State {
	f := s.flags.Load()
	closedAt := int64(0)
	if f&flagClosed != 0 {
		// Stored before flagClosed is set: a snapshot shows both or
		// neither.
		closedAt = s.closedAt.Load()
	}
	return State{
		ID:           s.getID(),
		Name:         s.cfg.name,
		Side:         s.cfg.side,
		LocalAddr:    s.laddr,
		RemoteAddr:   s.raddr,
		OpenedAt:     monoTime(s.opened),
		ClosedAt:     monoTime(closedAt),
		LastReadAt:   monoTime(s.lastRead.Load()),
		LastWriteAt:  monoTime(s.lastWrite.Load()),
		BytesRead:    s.nread.Load(),
		BytesWritten: s.nwritten.Load(),
		Closed:       f&flagClosed != 0,
		PeerClosed:   f&flagPeerClosed != 0,
		ReadShut:     f&flagReadShut != 0,
		WriteShut:    f&flagWriteShut != 0,
		Reset:        f&flagReset != 0,
		TimedOut:     f&flagTimedOut != 0,
		Cause:        Cause(f >> causeShift & causeMask),
		Origin:       s.origin(),
		closed:       isClosed(f),
	}
}

// isClosed is the rule of Conn.IsClosed. A FIN known from Probe while data
// still waits (flagPeerClosed without flagEOF) is not enough: the data can
// still be read.
func isClosed(f uint32) bool {
	return f&(flagClosed|flagReset) != 0 ||
		f&(flagEOF|flagWriteShut) == flagEOF|flagWriteShut ||
		f&(flagReadShut|flagWriteShut) == flagReadShut|flagWriteShut
}

// recordError records a terminal error other than EOF and reset as the
// candidate Cause (CauseError), clearing TimedOut: the operation that saw it
// did not hit a deadline. After Close has begun nothing changes.
func (s *core) recordError() { s.recordTerminal(CauseError) }

// recordTerminal records term as the candidate Cause if none was recorded
// yet, clearing TimedOut. It sets no flag and fires no event.
func (s *core) recordTerminal(term Cause) {
	for {
		old := s.flags.Load()
		n := nextFlags(old, 0, flagTimedOut, term)
		if old&flagClosed != 0 || n == old || s.flags.CompareAndSwap(old, n) {
			return
		}
	}
}

// nextFlags sets the bits in set and clears those in clear; if term is not
// CauseNone and no terminal cause was recorded yet, term becomes the
// candidate Cause.
func nextFlags(old, set, clear uint32, term Cause) uint32 {
	n := (old | set) &^ clear
	if term != CauseNone && old>>termShift&causeMask == 0 {
		n |= uint32(term) << termShift
	}
	return n
}

// transition updates the flags as nextFlags does, unless Close has begun,
// and then fires e if bit, the flag that stands for e, was clear before. While its hooks run it counts as emitting, so that
// EventClose waits for them (see finish).
func (s *core) transition(set, clear, bit uint32, term Cause, e Event) {
	for {
		old := s.flags.Load()
		if old&flagClosed != 0 {
			return
		}
		n := nextFlags(old, set, clear, term)
		fire := old&bit == 0
		if fire {
			n += emittingOne
		}
		if n == old || s.flags.CompareAndSwap(old, n) {
			if fire {
				s.emit(e)
				s.doneEmitting()
			}
			return
		}
	}
}

// doneEmitting ends the hooks of a transition; the last one to end after
// the conn finished closing fires the EventClose that finish left to it.
func (s *core) doneEmitting() {
	for {
		old := s.flags.Load()
		n := old - emittingOne
		fire := n&emittingMask == 0 && n&(flagFinished|flagCloseFired) == flagFinished
		if fire {
			n |= flagCloseFired
		}
		if s.flags.CompareAndSwap(old, n) {
			if fire {
				s.fireClose()
			}
			return
		}
	}
}

// deadlineHit records a Read (read is true) or Write that failed on its
// deadline. A deadline set in the past interrupted the operation on
// purpose: that records nothing.
func (s *core) deadlineHit(read bool) {
	d := &s.wdeadline
	if read {
		d = &s.rdeadline
	}
	if d.Load() != abortDeadline {
		s.setTimedOut()
	}
}

// setTimedOut records that the latest failed operation hit a deadline.
func (s *core) setTimedOut() {
	for {
		old := s.flags.Load()
		if old&(flagClosed|flagTimedOut) != 0 || s.flags.CompareAndSwap(old, old|flagTimedOut) {
			return
		}
	}
}

// succeeded records a Read or Write that did not fail: it clears TimedOut.
// It costs one atomic load when TimedOut is clear.
func (s *core) succeeded() {
	if s.flags.Load()&flagTimedOut != 0 {
		s.clearTimedOut()
	}
}

// clearTimedOut records a successful operation after a timeout.
func (s *core) clearTimedOut() {
	for {
		old := s.flags.Load()
		if old&flagTimedOut == 0 || old&flagClosed != 0 || s.flags.CompareAndSwap(old, old&^flagTimedOut) {
			return
		}
	}
}

// fail records a failed Read (read is true) or Write and fires the event
// of the transition, if any.
func (s *core) fail(err error, read bool) {
	if !read && s.flags.Load()&flagWriteShut != 0 {
		// A Write after our own CloseWrite fails (EPIPE) whatever the
		// peer does: that says nothing about the peer.
		return
	}
	switch errclass.Classify(err) {
	case errclass.None, errclass.Closed:
		// A local close is recorded by Close itself.
	case errclass.Deadline:
		s.deadlineHit(read)
	case errclass.EOF:
		if !read {
			s.recordError()
			return
		}
		s.peerClosed()
	case errclass.Reset, errclass.BrokenPipe:
		s.reset()
	case errclass.TimedOut:
		// The kernel gave up: retransmissions, keepalive or
		// TCP_USER_TIMEOUT found no peer.
		s.recordTerminal(CauseStalled)
	default:
		s.recordError()
	}
}

// peerClosed records io.EOF from a read: the peer's FIN was reached and
// nothing is left to read. After our own CloseRead a read returns io.EOF
// too, and so does Linux once it has reported a reset; neither says the
// peer closed.
func (s *core) peerClosed() {
	if s.flags.Load()&(flagReadShut|flagReset) != 0 {
		return
	}
	s.transition(flagPeerClosed|flagEOF, flagTimedOut, flagPeerClosed, CausePeer, EventPeerClosed)
}

func (s *core) reset() {
	s.transition(flagReset, flagTimedOut, flagReset, CauseReset, EventReset)
}

// beginClose starts the first Close and decides the Cause (forced, if not
// CauseNone). stalled says that the socket was found stalled just before:
// that ranks below a terminal event and above a timeout. It reports false
// if Close had already begun.
func (s *core) beginClose(forced Cause, stalled bool) bool {
	// ClosedAt is stored first, by the first closer to get there, so that
	// a snapshot that shows Closed also shows ClosedAt.
	s.closedAt.CompareAndSwap(0, mono())
	for {
		old := s.flags.Load()
		if old&flagClosed != 0 {
			return false
		}
		cause := forced
		if cause == CauseNone {
			switch {
			case old>>termShift&causeMask != 0:
				cause = Cause(old >> termShift & causeMask)
			case stalled:
				cause = CauseStalled
			case old&flagTimedOut != 0:
				cause = CauseTimeout
			default:
				cause = CauseLocal
			}
		}
		// One step sets Closed with the Cause: no snapshot sees one
		// without the other.
		if s.flags.CompareAndSwap(old, old|flagClosed|uint32(cause)<<causeShift) {
			return true
		}
	}
}

// finish ends a conn whose inner Close returned: it leaves its group and
// fires EventClose. If another goroutine is still running the hooks of an
// earlier transition (one that raced with Close), EventClose fires on that
// goroutine once they return, so that it is always the last event.
func (s *core) finish() {
	if g := s.group; g != nil {
		g.remove(s)
	}
	for {
		old := s.flags.Load()
		n := old | flagFinished
		if old&emittingMask == 0 {
			n |= flagCloseFired
		}
		if s.flags.CompareAndSwap(old, n) {
			if n&flagCloseFired != 0 {
				s.fireClose()
			}
			return
		}
	}
}

// fireClose fires EventClose, then tells the conn's listener (afterClose)
// that its hooks have returned.
func (s *core) fireClose() {
	s.emit(EventClose)
	if f := s.cfg.afterClose; f != nil {
		f()
	}
}

// emit runs the hooks for e with the current State.
func (s *core) emit(e Event) {
	hooks := s.cfg.hooks
	if len(hooks) == 0 {
		return
	}
	st := s.state()
	for _, h := range hooks {
		runHook(h, e, st)
	}
}
