package listener_test

import (
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// listen returns a tracked listener on 127.0.0.1, closed at the end of the
// test.
func listen(t testing.TB, opts ...trackedconn.Option) *listener.Listener {
	t.Helper()
	ln, err := listener.Listen("tcp", "127.0.0.1:0", opts...)
	require.NoError(t, err, "Listen")
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// recorder is a hook that records events and hands out final States.
type recorder struct {
	mu     sync.Mutex
	events map[uint64][]trackedconn.Event
	opened chan trackedconn.State
	closed chan trackedconn.State
}

func newRecorder() *recorder {
	return &recorder{
		events: map[uint64][]trackedconn.Event{},
		opened: make(chan trackedconn.State, 100),
		closed: make(chan trackedconn.State, 100),
	}
}

func (r *recorder) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	r.mu.Lock()
	r.events[s.ID] = append(r.events[s.ID], e)
	r.mu.Unlock()
	switch e {
	case trackedconn.EventOpen:
		r.opened <- s
	case trackedconn.EventClose:
		r.closed <- s
	}
}

func (r *recorder) eventsOf(id uint64) []trackedconn.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]trackedconn.Event(nil), r.events[id]...)
}

// server is an accept loop with a goroutine per conn.
type server struct {
	stopped chan struct{} // closed when the accept loop ends (ln closed)
	wg      sync.WaitGroup
}

// serve runs an accept loop on ln in the background, running handle in a
// goroutine for each conn.
func serve(ln net.Listener, handle func(net.Conn)) *server {
	s := &server{stopped: make(chan struct{})}
	go func() {
		defer close(s.stopped)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { handle(c) })
		}
	}()
	return s
}

// wait blocks until the accept loop has ended and every handler returned.
func (s *server) wait() {
	<-s.stopped
	s.wg.Wait()
}
