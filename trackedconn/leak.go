package trackedconn

import "runtime"

// originDepth is how many frames of the wrapping stack leak detection keeps.
const originDepth = 32

// watchLeak records in s.leak where t was wrapped and arranges for s to be
// reclaimed if t becomes unreachable without Close. It must be called by Wrap
// itself: the stack it records starts at Wrap's caller (user code for
// Wrap, the listener's Accept or the dialer's DialContext for their conns,
// followed by their callers).
//
// The cleanup holds s, never t, and nothing in the package points from a
// core back to its *Conn (Groups hold cores; hooks get a State), so a
// dropped *Conn does become unreachable.
func watchLeak(t *Conn, s *core) {
	var pcs [originDepth]uintptr
	n := runtime.Callers(3, pcs[:]) // skip Callers, watchLeak, Wrap
	s.leak.origin = append(Origin(nil), pcs[:n]...)
	s.leak.cleanup = runtime.AddCleanup(t, reclaim, s)
}

// leakWatch is what leak detection keeps of a conn, apart from its core so
// that conns without it do not carry the space.
type leakWatch struct {
	origin  Origin
	cleanup runtime.Cleanup
}

// origin returns where the conn was wrapped, if leak detection is on.
func (s *core) origin() Origin {
	if s.leak == nil {
		return nil
	}
	return s.leak.origin
}

// reclaim closes the inner conn of a tracked conn that became unreachable
// without Close, so that its descriptor is released and its peer sees the
// close, then takes it out of its Group. EventLeak fires before the inner
// Close, EventClose after it, both with Cause CauseLeak. reclaim runs on
// the runtime's cleanup goroutine: the hooks and the inner Close delay the
// program's other cleanups while they run.
func reclaim(s *core) {
	if !s.beginClose(CauseLeak, false) {
		return // closed in time (by Group.CloseAll, racing with the cleanup)
	}
	s.emit(EventLeak)
	_ = s.inner.Close()
	s.finish()
}
