package listener_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

func TestAccept(t *testing.T) {
	rec := newRecorder()
	var userGroup trackedconn.Group
	ln := listen(t, trackedconn.WithName("web"), trackedconn.WithHook(rec), trackedconn.WithGroup(&userGroup))

	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	c, err := ln.Accept()
	require.NoError(t, err, "Accept")
	tc, ok := c.(*trackedconn.Conn)
	require.True(t, ok, "Accept returns a *trackedconn.Conn, got %T", c)

	st := tc.State()
	assert.Equal(t, trackedconn.SideServer, st.Side, "Side")
	assert.Equal(t, "web", st.Name, "Name")
	assert.Equal(t, ln.Addr().String(), st.LocalAddr.String(), "LocalAddr")
	assert.Equal(t, client.LocalAddr().String(), st.RemoteAddr.String(), "RemoteAddr")
	assert.Equal(t, st.ID, (<-rec.opened).ID, "EventOpen fired by Accept")

	conns := ln.Conns()
	require.Len(t, conns, 1, "Conns")
	assert.Equal(t, tc.ID(), conns[0].ID)
	assert.Equal(t, trackedconn.Stats{Opened: 1, Active: 1}, ln.Stats())
	assert.Equal(t, trackedconn.Stats{}, userGroup.Stats(), "a user WithGroup is overridden by the listener's own group")

	_, err = client.Write([]byte("ping"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, make([]byte, 4))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.Equal(t, trackedconn.Stats{Opened: 1, Closed: 1, BytesRead: 4}, ln.Stats())
	assert.Empty(t, ln.Conns())
}

func TestWrap(t *testing.T) {
	assert.PanicsWithValue(t, "listener: Wrap(nil)", func() { listener.Wrap(nil) })
	ln := listen(t)
	assert.Same(t, ln, listener.Wrap(ln), "wrapping a *Listener returns it")
}

// fakeListener hands out the conns and errors sent to it. Its Close does
// not interrupt a pending Accept, so that a conn can arrive after Close.
type fakeListener struct {
	entered   chan struct{} // receives when Accept starts waiting
	accept    chan acceptResult
	closeOnce sync.Once
	closed    chan struct{}
}

type acceptResult struct {
	c   net.Conn
	err error
}

func newFakeListener() *fakeListener {
	return &fakeListener{entered: make(chan struct{}, 10), accept: make(chan acceptResult), closed: make(chan struct{})}
}

func (l *fakeListener) Accept() (net.Conn, error) {
	l.entered <- struct{}{}
	r := <-l.accept
	return r.c, r.err
}

func (l *fakeListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *fakeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

func TestAcceptErrorUnchanged(t *testing.T) {
	fake := newFakeListener()
	ln := listener.Wrap(fake)
	want := &net.OpError{Op: "accept", Net: "tcp", Err: errors.New("too many open files")}
	go func() { fake.accept <- acceptResult{err: want} }()
	_, err := ln.Accept()
	assert.Same(t, want, err, "Accept error returned unchanged")
	assert.Equal(t, uint64(1), ln.AcceptErrors(), "AcceptErrors after one failure")

	// An Accept blocked in the wrapped listener when Close is called.
	errc := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		errc <- err
	}()
	<-fake.entered
	<-fake.entered
	require.NoError(t, ln.Close())
	fake.accept <- acceptResult{err: net.ErrClosed}
	assert.ErrorIs(t, <-errc, net.ErrClosed, "Accept interrupted by Close")
	assert.Equal(t, uint64(1), ln.AcceptErrors(), "the error that ends Accept after Close is not counted")
}

func TestAcceptAfterClose(t *testing.T) {
	ln := listen(t)
	require.NoError(t, ln.Close(), "first Close")
	assert.ErrorIs(t, ln.Close(), net.ErrClosed, "second Close")
	_, err := ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "Accept after Close")
	assert.Equal(t, uint64(0), ln.AcceptErrors())
	assert.NoError(t, ln.Shutdown(context.Background()), "Shutdown after Close")

	ln2 := listen(t)
	require.NoError(t, ln2.Shutdown(context.Background()))
	_, err = ln2.Accept()
	assert.ErrorIs(t, err, net.ErrClosed, "Accept after Shutdown")
}

// A conn that the wrapped listener hands out after Shutdown must not
// become a live conn that Shutdown never waited for.
func TestAcceptAfterShutdownClosesLateConn(t *testing.T) {
	fake := newFakeListener()
	ln := listener.Wrap(fake)
	type result struct {
		c   net.Conn
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept() // blocked in the fake's Accept
		res <- result{c, err}
	}()
	<-fake.entered
	require.NoError(t, ln.Shutdown(context.Background()), "Shutdown with no conns")

	server, client := net.Pipe()
	fake.accept <- acceptResult{c: server}
	r := <-res
	assert.ErrorIs(t, r.err, net.ErrClosed, "Accept after Shutdown")
	assert.Nil(t, r.c)
	_, err := client.Read(make([]byte, 1))
	assert.Error(t, err, "the late conn is closed")
	assert.Equal(t, uint64(0), ln.Stats().Opened, "the late conn was never tracked")
}

func TestShutdownForced(t *testing.T) {
	const n = 3
	rec := newRecorder()
	ln := listen(t, trackedconn.WithHook(rec))
	// Handlers that never close: they read until their conn dies.
	srv := serve(ln, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })

	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, c)
	}
	for range n {
		<-rec.opened
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := ln.Shutdown(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown with conns that never close")

	assert.Empty(t, ln.Conns(), "no live conn after Shutdown")
	assert.Equal(t, trackedconn.Stats{Opened: n, Closed: n}, ln.Stats())
	require.Len(t, rec.closed, n, "every EventClose has fired when Shutdown returns")
	for range n {
		st := <-rec.closed
		assert.True(t, st.Closed, "closed State of conn %d", st.ID)
		assert.Equal(t, trackedconn.CauseLocal, st.Cause, "Cause of a force-closed conn")
	}
	for _, c := range clients {
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "the client sees the server's close")
	}
	srv.wait()
}

func TestShutdownInTime(t *testing.T) {
	const n = 3
	rec := newRecorder()
	ln := listen(t, trackedconn.WithHook(rec))
	// Handlers that close when their client does.
	srv := serve(ln, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	})
	var clients []net.Conn
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		clients = append(clients, c)
	}
	for range n {
		<-rec.opened
	}

	done := make(chan error, 1)
	go func() { done <- ln.Shutdown(context.Background()) }()
	<-srv.stopped // Shutdown has closed the listener
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while %d conns were open", err, n)
	default:
	}
	for _, c := range clients {
		require.NoError(t, c.Close())
	}
	require.NoError(t, <-done, "Shutdown with conns that close in time")

	assert.Empty(t, ln.Conns(), "no live conn after Shutdown")
	assert.Equal(t, trackedconn.Stats{Opened: n, Closed: n}, ln.Stats())
	require.Len(t, rec.closed, n, "every EventClose has fired when Shutdown returns")
	for range n {
		st := <-rec.closed
		assert.Equal(t, trackedconn.CausePeer, st.Cause, "conn %d closed by its handler after the client's FIN", st.ID)
	}
	srv.wait()
}

// Shutdown returns only once the EventClose hooks of every conn have
// returned, also when a hook is still running after the conn's Close.
func TestShutdownWaitsForCloseHooks(t *testing.T) {
	release := make(chan struct{})
	inHook := make(chan struct{})
	hook := trackedconn.HookFunc(func(e trackedconn.Event, _ trackedconn.State) {
		if e == trackedconn.EventClose {
			close(inHook)
			<-release
		}
	})
	ln := listen(t, trackedconn.WithHook(hook))
	srv := serve(ln, func(c net.Conn) { _ = c.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	<-inHook // the handler's Close is in the hook

	done := make(chan error, 1)
	go func() { done <- ln.Shutdown(context.Background()) }()
	<-srv.stopped // Shutdown has closed the listener
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while an EventClose hook was running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-done, "Shutdown once the hook returned")
	assert.Equal(t, trackedconn.Stats{Opened: 1, Closed: 1}, ln.Stats())
	srv.wait()
}

// Shutdown may be called concurrently; every call waits.
func TestShutdownConcurrent(t *testing.T) {
	rec := newRecorder()
	ln := listen(t, trackedconn.WithHook(rec))
	srv := serve(ln, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	})
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	<-rec.opened

	const callers = 4
	done := make(chan error, callers)
	for range callers {
		go func() { done <- ln.Shutdown(context.Background()) }()
	}
	<-srv.stopped
	require.NoError(t, client.Close())
	for range callers {
		require.NoError(t, <-done)
	}
	assert.Equal(t, uint64(0), ln.Stats().Active)
	srv.wait()
}

// Hooks registered and removed from many goroutines while conns are
// accepted, dialed and closed over TCP; run with -race.
func TestHooksChurnTCP(t *testing.T) {
	const (
		churners = 4
		clients  = 4
		conns    = 25
	)
	reg := hooks.New()
	counters := hooks.NewCounters()
	reg.Add(counters)
	ln := listen(t, trackedconn.WithHook(reg), trackedconn.WithName("srv"))
	d := dialer.New(trackedconn.WithHook(reg), trackedconn.WithName("cli"))
	srv := serve(ln, func(c net.Conn) {
		_, _ = io.Copy(c, c)
		_ = c.Close()
	})

	stop := make(chan struct{})
	var churn sync.WaitGroup
	for range churners {
		churn.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r1 := reg.OnOpen(func(trackedconn.State) {})
				r2 := reg.OnClose(func(s trackedconn.State) {
					if s.Side == trackedconn.SideUnknown {
						t.Error("unexpected side")
					}
				})
				r3 := reg.On(trackedconn.EventPeerClosed, func(trackedconn.State) {})
				r2()
				r1()
				r3()
				r3()
			}
		})
	}
	var work sync.WaitGroup
	for range clients {
		work.Go(func() {
			for range conns {
				c, err := d.Dial("tcp", ln.Addr().String())
				if !assert.NoError(t, err) {
					return
				}
				_, err = c.Write([]byte("x"))
				assert.NoError(t, err)
				_, err = io.ReadFull(c, make([]byte, 1))
				assert.NoError(t, err)
				assert.NoError(t, c.Close())
			}
		})
	}
	work.Wait()
	close(stop)
	churn.Wait()
	require.NoError(t, ln.Shutdown(context.Background()))
	srv.wait()

	s := counters.Snapshot()
	const total = clients * conns
	assert.Equal(t, uint64(total), s.ByName["cli"].Opened, "client conns opened")
	assert.Equal(t, uint64(total), s.ByName["cli"].Closed, "client conns closed")
	assert.Equal(t, uint64(total), s.ByName["srv"].Opened, "server conns opened")
	assert.Equal(t, uint64(total), s.ByName["srv"].ClosedBy["peer"], "server conns closed after the client's FIN")
	assert.Equal(t, trackedconn.Stats{Opened: total, Closed: total, BytesRead: total, BytesWritten: total}, d.Stats(), "dialer Stats")
}
