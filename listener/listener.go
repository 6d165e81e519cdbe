package listener

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"github.com/connwatch/connwatch/internal/wrapopt"
	"github.com/connwatch/connwatch/trackedconn"
)

// Listener is a net.Listener whose Accept hands out tracked conns and
// keeps the live ones in its own trackedconn.Group. Create one with Listen
// or Wrap; a zero Listener is not usable.
//
// Listener is safe for concurrent use.
type Listener struct {
	inner net.Listener
	opt   trackedconn.Option // built once: the user's options + side, close count, group

	// What Accept writes and reads, apart from what closing conns write
	// (finished, the group): on a server, conns are accepted on one CPU
	// and closed on others.
	closed    atomic.Bool   // Close or Shutdown began: Accept hands out no more conns
	draining  atomic.Bool   // a Shutdown waits: closes must call notify
	accepting atomic.Int64  // Accepts between the inner Accept and the group
	acceptErr atomic.Uint64 // failed Accepts, not counting those after Close
	_         [64]byte      // a cache line

	finished  atomic.Uint64 // conns whose EventClose hooks have all returned
	group     trackedconn.Group
	closeErr  error     // the inner Close's error, set once by closeOnce
	closeOnce sync.Once //

	mu    sync.Mutex    // guards waitc
	waitc chan struct{} // closed and reset by notify; nil if nobody waits
}

var _ net.Listener = (*Listener)(nil)

// Listen announces on the local network address, as net.Listen does, and
// returns a Listener over it. opts apply to every accepted conn (see Wrap).
func Listen(network, address string, opts ...trackedconn.Option) (*Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return Wrap(l, opts...), nil
}

// Wrap returns a Listener that accepts from l and tracks each conn with
// opts, plus trackedconn.WithSide(trackedconn.SideServer). The options are
// merged once, here, into one configuration that every accepted conn
// shares.
//
// Every accepted conn is in the Listener's own group, which Conns, Stats
// and Shutdown read: a trackedconn.WithGroup among opts is overridden (a
// conn is in one group only). To watch the conns of several listeners and
// dialers together, give them the same hook instead, such as a
// hooks.Counters. Hooks among opts run for every accepted conn.
//
// If l is already a *Listener, Wrap returns it unchanged and ignores opts.
// Wrap(nil) panics.
func Wrap(l net.Listener, opts ...trackedconn.Option) *Listener {
	if l == nil {
		panic("listener: Wrap(nil)")
	}
	if t, ok := l.(*Listener); ok {
		return t
	}
	t := &Listener{inner: l}
	all := make([]trackedconn.Option, 0, len(opts)+4)
	all = append(all, opts...)
	all = append(all,
		trackedconn.WithSide(trackedconn.SideServer),
		wrapopt.AfterClose(t.connFinished).(trackedconn.Option), // runs after the user's hooks
		trackedconn.WithGroup(&t.group),
	)
	if o := wrapopt.PlainTCP(l); o != nil { // not an MPTCP listener
		all = append(all, o.(trackedconn.Option))
	}
	t.opt = trackedconn.Options(all...)
	return t
}

// connFinished counts a conn whose EventClose hooks have all returned,
// and wakes a waiting Shutdown.
func (l *Listener) connFinished() {
	l.finished.Add(1)
	if l.draining.Load() {
		l.notify()
	}
}

// Accept waits for the next conn and returns it as a *trackedconn.Conn
// with Side trackedconn.SideServer; EventOpen has fired when it returns.
// Errors of the wrapped listener are returned unchanged. After Close or
// Shutdown, Accept returns an error matching net.ErrClosed; a conn that
// the wrapped listener hands out after that is closed, never returned.
func (l *Listener) Accept() (net.Conn, error) {
	if l.closed.Load() {
		return nil, l.errClosed()
	}
	c, err := l.inner.Accept()
	if err != nil {
		if !l.closed.Load() || !errors.Is(err, net.ErrClosed) {
			l.acceptErr.Add(1)
		}
		return nil, err
	}
	// Shutdown sets closed, then waits for accepting to drop to zero: a
	// conn is either seen here as too late or is in the group before
	// Shutdown's wait can end.
	l.accepting.Add(1)
	defer l.acceptDone()
	if l.closed.Load() {
		_ = c.Close()
		return nil, l.errClosed()
	}
	return trackedconn.Wrap(c, l.opt), nil
}

func (l *Listener) acceptDone() {
	l.accepting.Add(-1)
	if l.draining.Load() {
		l.notify()
	}
}

func (l *Listener) errClosed() error {
	a := l.inner.Addr()
	return &net.OpError{Op: "accept", Net: a.Network(), Addr: a, Err: net.ErrClosed}
}

// AcceptErrors returns how many Accept calls failed with an error of the
// wrapped listener, not counting the error that ends Accept after Close or
// Shutdown.
func (l *Listener) AcceptErrors() uint64 { return l.acceptErr.Load() }

// Close closes the wrapped listener: Accept returns an error matching
// net.ErrClosed from then on. It leaves the accepted conns open; Shutdown
// closes them. The first call returns the wrapped listener's Close error,
// later calls an error matching net.ErrClosed.
func (l *Listener) Close() error {
	first, err := l.closeInner()
	if !first {
		a := l.inner.Addr()
		return &net.OpError{Op: "close", Net: a.Network(), Addr: a, Err: net.ErrClosed}
	}
	return err
}

// closeInner closes the wrapped listener once and reports whether this
// call did it.
func (l *Listener) closeInner() (first bool, err error) {
	l.closeOnce.Do(func() {
		first = true
		l.closed.Store(true)
		l.closeErr = l.inner.Close()
	})
	return first, l.closeErr
}

// Addr returns the wrapped listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Conns returns a snapshot of the live accepted conns, oldest first.
func (l *Listener) Conns() []trackedconn.State { return l.group.Conns() }

// Stats returns the counters of the accepted conns. It costs a few atomic
// loads.
func (l *Listener) Stats() trackedconn.Stats { return l.group.Stats() }

// Shutdown closes the listener, then waits until every accepted conn is
// closed. If ctx ends first, it closes the remaining conns itself (as their
// Close would: EventClose fires once for each) and returns ctx.Err().
// Either way, when Shutdown returns no accepted conn is live (Conns is
// empty, Stats().Active is 0) and the EventClose hooks of every conn have
// returned. Otherwise it returns the wrapped
// listener's Close error if this call closed it, else nil.
//
// Shutdown does not poll: each closing conn wakes it. It does not tell
// the conns' users to stop (an http.Server has its own Shutdown for that);
// it waits for them, then forces. Shutdown may be called more than once
// and concurrently; each call waits.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.draining.Store(true)
	first, err := l.closeInner()
	if !first {
		err = nil
	}
	for {
		wait := l.waitChan()
		if l.idle() {
			return err
		}
		select {
		case <-wait:
		case <-ctx.Done():
			l.forceClose()
			return ctx.Err()
		}
	}
}

// forceClose closes every live conn and waits for closes under way
// elsewhere, and for Accepts about to add a conn, to finish.
func (l *Listener) forceClose() {
	for {
		wait := l.waitChan()
		l.group.CloseAll()
		if l.idle() {
			return
		}
		<-wait
	}
}

// idle reports whether every accepted conn has closed, and its EventClose
// hooks have returned, and no Accept is about to add a conn.
func (l *Listener) idle() bool {
	if l.accepting.Load() != 0 {
		return false
	}
	finished := l.finished.Load() // before Opened: finished <= Opened at every instant
	return finished == l.group.Stats().Opened
}

// waitChan returns a channel that notify closes. Take it before checking
// the condition waited for, so that no wakeup is lost.
func (l *Listener) waitChan() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waitc == nil {
		l.waitc = make(chan struct{})
	}
	return l.waitc
}

// notify wakes every waiting Shutdown.
func (l *Listener) notify() {
	l.mu.Lock()
	if l.waitc != nil {
		close(l.waitc)
		l.waitc = nil
	}
	l.mu.Unlock()
}
