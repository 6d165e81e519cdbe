package hooks

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/connwatch/connwatch/trackedconn"
)

// numEvents is the number of trackedconn events.
const numEvents = int(trackedconn.EventLeak) + 1

// Registry is a trackedconn.Hook whose callbacks are registered and removed
// at run time. Give it to conns with trackedconn.WithHook(r); the
// callbacks registered for an event run, in registration order, each time a
// conn fires that event.
//
// Registration and removal copy a small table and publish it with one
// atomic store; dispatch takes no lock and, with nothing registered for the
// event, costs one atomic load. A zero Registry is ready to use. Registry is
// safe for concurrent use; it must not be copied after first use.
type Registry struct {
	mu      sync.Mutex                                                      // serializes writers of tab
	tab     atomic.Pointer[table]                                           // nil: nothing registered
	onPanic atomic.Pointer[func(trackedconn.Event, trackedconn.State, any)] // nil: slog.Error
}

var _ trackedconn.Hook = (*Registry)(nil)

// table is an immutable snapshot of the callbacks, per event.
type table [numEvents][]*entry

// entry is one registration. Its address identifies it for removal.
type entry struct {
	fn      func(trackedconn.Event, trackedconn.State)
	removed bool // guarded by Registry.mu
}

// New returns an empty Registry.
func New() *Registry { return new(Registry) }

// ConnEvent runs the callbacks registered for e, in registration order,
// with s. A callback that panics is recovered and reported (see OnPanic);
// the callbacks after it still run.
func (r *Registry) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	t := r.tab.Load()
	if t == nil || int(e) >= numEvents {
		return
	}
	for _, en := range t[e] {
		r.call(en.fn, e, s)
	}
}

func (r *Registry) call(fn func(trackedconn.Event, trackedconn.State), e trackedconn.Event, s trackedconn.State) {
	defer func() {
		if v := recover(); v != nil {
			r.panicked(e, s, v)
		}
	}()
	fn(e, s)
}

// panicked reports a recovered panic. A handler that panics in turn is
// recovered silently, so that the remaining callbacks still run.
func (r *Registry) panicked(e trackedconn.Event, s trackedconn.State, v any) {
	defer func() { _ = recover() }()
	if h := r.onPanic.Load(); h != nil {
		(*h)(e, s, v)
		return
	}
	slog.Error("hooks: callback panicked", "event", e.String(), "conn", s.ID, "panic", v)
}

// OnPanic sets the function that reports a callback's panic: it receives
// the event, the State the callback was given and the recovered value. It
// runs on the goroutine of the event, in place of the default report, a
// slog.Error line with the message "hooks: callback panicked". A nil
// handler restores the default. A panic in the handler itself is recovered
// and dropped.
func (r *Registry) OnPanic(handler func(e trackedconn.Event, s trackedconn.State, v any)) {
	if handler == nil {
		r.onPanic.Store(nil)
		return
	}
	r.onPanic.Store(&handler)
}

// On registers fn to run each time a conn fires e, after the callbacks
// registered before it. It returns a function that removes the
// registration; calling it more than once does nothing. Registering the
// same function twice registers it twice.
//
// Events dispatched after On returns reach fn; events dispatched after
// remove returns do not. A dispatch already under way while On or remove
// runs may or may not include fn.
//
// On panics if fn is nil or e is not a trackedconn event.
func (r *Registry) On(e trackedconn.Event, fn func(trackedconn.State)) (remove func()) {
	if fn == nil {
		panic("hooks: On with a nil func")
	}
	if int(e) >= numEvents {
		panic("hooks: On with an invalid event " + e.String())
	}
	return r.add(func(_ trackedconn.Event, s trackedconn.State) { fn(s) }, e)
}

// OnOpen registers fn for trackedconn.EventOpen, as On does.
func (r *Registry) OnOpen(fn func(trackedconn.State)) (remove func()) {
	return r.On(trackedconn.EventOpen, fn)
}

// OnClose registers fn for trackedconn.EventClose, as On does. EventClose
// fires exactly once per conn, with the final State.
func (r *Registry) OnClose(fn func(trackedconn.State)) (remove func()) {
	return r.On(trackedconn.EventClose, fn)
}

// Add registers h for every event, as On does, for example to attach Log or
// a Counters while conns are live. Add(nil) panics.
func (r *Registry) Add(h trackedconn.Hook) (remove func()) {
	if h == nil {
		panic("hooks: Add(nil)")
	}
	var all [numEvents]trackedconn.Event
	for i := range all {
		all[i] = trackedconn.Event(i)
	}
	return r.add(h.ConnEvent, all[:]...)
}

// add registers one entry for each of events and returns its remover.
func (r *Registry) add(fn func(trackedconn.Event, trackedconn.State), events ...trackedconn.Event) func() {
	en := &entry{fn: fn}
	r.mu.Lock()
	var t table
	if old := r.tab.Load(); old != nil {
		t = *old
	}
	for _, e := range events {
		s := make([]*entry, len(t[e]), len(t[e])+1)
		copy(s, t[e])
		t[e] = append(s, en)
	}
	r.tab.Store(&t)
	r.mu.Unlock()
	return func() { r.remove(en) }
}

// remove takes en out of the table. It is idempotent.
func (r *Registry) remove(en *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if en.removed {
		return
	}
	en.removed = true
	old := r.tab.Load()
	var t table
	empty := true
	for e, list := range old {
		for _, x := range list {
			if x != en {
				t[e] = append(t[e], x)
			}
		}
		empty = empty && len(t[e]) == 0
	}
	if empty {
		r.tab.Store(nil)
		return
	}
	r.tab.Store(&t)
}
