package dialer

import (
	"sync"
	"sync/atomic"
)

// A DialObserver is told when each dial of a Dialer starts and when one
// fails, so that it can count attempts while they are in flight (a dial
// that has started and not yet ended is neither a conn nor a failure).
// contrib/prometheus counts go-conntrack's dialer_conn_attempted_total and
// dialer_conn_failed_total this way. A successful dial ends with the conn's
// EventOpen, which the Dialer's hooks see.
//
// Both methods run on the goroutine that called DialContext, synchronously:
// like hooks, they must be quick and must not block. name is the name from
// WithName in the dial's context, or "" when there is none.
type DialObserver interface {
	// DialStarted runs before the dial function is called.
	DialStarted(name string)
	// DialFailed runs after the dial function failed, with its error
	// (also counted in Failures).
	DialFailed(name string, err error)
}

// Observe adds o to the Dialer's observers and returns a function that
// removes it; calling that more than once does nothing. Observers run in
// the order they were added. A dial under way when o is added or removed
// may be seen only in part (its start without its failure, or the
// reverse). Observe(nil) panics.
func (d *Dialer) Observe(o DialObserver) (remove func()) {
	if o == nil {
		panic("dialer: Observe(nil)")
	}
	w := &watcher{o: o}
	d.obs.add(w)
	var once sync.Once
	return func() { once.Do(func() { d.obs.remove(w) }) }
}

// watcher boxes an observer so that the same observer added twice is
// removed once per remove function.
type watcher struct{ o DialObserver }

// observers is a copy-on-write list of watchers: a dial reads it with one
// atomic load, and none when there is no observer.
type observers struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*watcher]
}

func (s *observers) add(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var old []*watcher
	if p := s.list.Load(); p != nil {
		old = *p
	}
	next := append(old[:len(old):len(old)], w)
	s.list.Store(&next)
}

func (s *observers) remove(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.list.Load()
	if p == nil {
		return
	}
	next := make([]*watcher, 0, len(*p))
	for _, x := range *p {
		if x != w {
			next = append(next, x)
		}
	}
	s.list.Store(&next)
}

func (s *observers) started(name string) {
	if p := s.list.Load(); p != nil {
		for _, w := range *p {
			w.o.DialStarted(name)
		}
	}
}

func (s *observers) failed(name string, err error) {
	if p := s.list.Load(); p != nil {
		for _, w := range *p {
			w.o.DialFailed(name, err)
		}
	}
}
