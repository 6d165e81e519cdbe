// Package stress_test drives many loopback TCP conns through a
// listener.Listener and a dialer.Dialer at once, with hooks registered and
// removed while they run, and checks that every conn ends in exactly one
// EventClose with the Cause its story calls for, that both ends count the
// same bytes, and that the counters of the listener, the dialer and the
// hooks agree. It lives in its own package because it needs all of them.
package stress_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// story is what a client asks the server to do with a conn; the client
// sends it as the first byte.
type story byte

const (
	storyEcho    story = iota // server echoes until EOF; client half-closes, drains, closes
	storyReset                // server resets (SO_LINGER 0); client's read sees ECONNRESET
	storyTimeout              // server's read deadline passes, server closes
	storyClose                // server closes at once; client reads EOF
	storyIdle                 // nobody closes: listener.Shutdown forces the server end
	numStories
)

var storyNames = [numStories]string{"echo", "reset", "timeout", "close", "idle"}

func (s story) String() string { return storyNames[s] }

// want is the Cause each end of a story must end with.
var want = [numStories]struct{ server, client trackedconn.Cause }{
	storyEcho:    {trackedconn.CausePeer, trackedconn.CausePeer},
	storyReset:   {trackedconn.CauseLocal, trackedconn.CauseReset},
	storyTimeout: {trackedconn.CauseTimeout, trackedconn.CausePeer},
	storyClose:   {trackedconn.CauseLocal, trackedconn.CausePeer},
	storyIdle:    {trackedconn.CauseLocal, trackedconn.CausePeer},
}

// connLog is a hook that keeps every conn's events and final State.
type connLog struct {
	mu     sync.Mutex
	events map[uint64][]trackedconn.Event
	final  map[uint64]trackedconn.State
}

func newConnLog() *connLog {
	return &connLog{events: map[uint64][]trackedconn.Event{}, final: map[uint64]trackedconn.State{}}
}

func (l *connLog) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events[s.ID] = append(l.events[s.ID], e)
	if e == trackedconn.EventClose {
		l.final[s.ID] = s
	}
}

// check requires every conn to have run from one EventOpen to one
// EventClose, each event at most once.
func (l *connLog) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, evs := range l.events {
		seen := map[trackedconn.Event]bool{}
		for _, e := range evs {
			require.False(t, seen[e], "conn %d: %v fired twice: %v", id, e, evs)
			seen[e] = true
		}
		require.Equal(t, trackedconn.EventOpen, evs[0], "conn %d: first event of %v", id, evs)
		require.Equal(t, trackedconn.EventClose, evs[len(evs)-1], "conn %d: last event of %v", id, evs)
	}
}

// stressConfig sizes a run.
type stressConfig struct {
	clients int // goroutines dialing
	conns   int // conns per client goroutine
	idle    int // conns left open for Shutdown
	payload int // most bytes an echo conn sends
}

// stressRun is one run: a listener and a dialer sharing hooks.
type stressRun struct {
	cfg      stressConfig
	seed     uint64
	ln       *listener.Listener
	d        *dialer.Dialer
	log      *connLog
	counters *hooks.Counters
	reg      *hooks.Registry
	closes   atomic.Int64 // EventClose seen by a callback registered for the whole run
	panics   atomic.Int64 // callbacks that panicked on purpose

	mu      sync.Mutex
	stories map[string]story // by the client's local address
	errs    []error
}

func (r *stressRun) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func runStress(t *testing.T, cfg stressConfig, seed uint64) {
	r := &stressRun{
		cfg: cfg, seed: seed, log: newConnLog(), counters: hooks.NewCounters(), reg: hooks.New(),
		stories: map[string]story{},
	}
	r.reg.OnPanic(func(trackedconn.Event, trackedconn.State, any) { r.panics.Add(1) })
	removeCount := r.reg.OnClose(func(trackedconn.State) { r.closes.Add(1) })
	defer removeCount()
	hooksOpt := trackedconn.Options(trackedconn.WithHook(r.log), trackedconn.WithHook(r.counters), trackedconn.WithHook(r.reg))

	var err error
	r.ln, err = listener.Listen("tcp", "127.0.0.1:0", hooksOpt, trackedconn.WithName("server"))
	require.NoError(t, err, "listen")
	r.d = dialer.New(hooksOpt, trackedconn.WithName("client"))

	var servers sync.WaitGroup
	idleReady := make(chan struct{}, cfg.idle)
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := r.ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					r.fail(fmt.Errorf("Accept: %w", err))
				}
				return
			}
			servers.Go(func() { r.serve(c.(*trackedconn.Conn), idleReady) })
		}
	}()

	// Hooks come and go, and some panic, while conns open and close.
	stopChurn := make(chan struct{})
	var churn sync.WaitGroup
	churn.Go(func() { r.churnHooks(stopChurn) })
	churn.Go(func() { r.watch(stopChurn) })

	// Idle conns first, held open until Shutdown.
	idlers := make(chan error, cfg.idle)
	for range cfg.idle {
		c := r.dial(storyIdle)
		if c == nil {
			break
		}
		go func() { idlers <- r.client(c, storyIdle, 0) }()
	}
	for range cfg.idle {
		<-idleReady
	}

	var clients sync.WaitGroup
	for w := range cfg.clients {
		clients.Go(func() {
			rnd := rand.New(rand.NewPCG(seed, uint64(w)))
			for range cfg.conns {
				s := story(rnd.IntN(int(storyIdle)))
				c := r.dial(s)
				if c == nil {
					return
				}
				if err := r.client(c, s, rnd.IntN(cfg.payload)+1); err != nil {
					r.fail(err)
				}
			}
		})
	}
	clients.Wait()

	// Every story but idle has ended on both sides; Shutdown forces the
	// idle server ends after a short wait.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = r.ln.Shutdown(ctx)
	cancel()
	if cfg.idle > 0 {
		require.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown with idle conns must force them when ctx ends")
	} else {
		require.NoError(t, err, "Shutdown with no conn left")
	}
	require.Empty(t, r.ln.Conns(), "listener Conns() after Shutdown")
	for range cfg.idle {
		if err := <-idlers; err != nil {
			r.fail(err)
		}
	}
	<-accepted
	servers.Wait()
	close(stopChurn)
	churn.Wait()

	r.mu.Lock()
	errs := r.errs
	r.mu.Unlock()
	require.Empty(t, errs, "seed %d: errors during the run", seed)
	r.check(t)
}

// dial opens a client conn and records its story; nil if the dial failed.
func (r *stressRun) dial(s story) *trackedconn.Conn {
	c, err := r.d.Dial("tcp", r.ln.Addr().String())
	if err != nil {
		r.fail(fmt.Errorf("Dial: %w", err))
		return nil
	}
	r.mu.Lock()
	r.stories[c.LocalAddr().String()] = s
	r.mu.Unlock()
	return c.(*trackedconn.Conn)
}

// client plays the client side of story s on c; an echo sends payload
// bytes after the story.
func (r *stressRun) client(c *trackedconn.Conn, s story, payload int) error {
	defer c.Close()
	msg := []byte{byte(s)}
	if s == storyEcho {
		msg = append(msg, make([]byte, payload)...)
	}
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("client %v: Write: %w", s, err)
	}
	if s == storyEcho {
		if err := c.CloseWrite(); err != nil {
			return fmt.Errorf("client %v: CloseWrite: %w", s, err)
		}
	}
	// Read what comes back until the server ends the conn: io.Copy goes
	// through the tracked conn's WriteTo.
	n, err := io.Copy(io.Discard, c)
	switch {
	case s == storyReset:
		if err == nil || c.Probe() != trackedconn.LivenessReset {
			return fmt.Errorf("client %v: read %d bytes, %v; Probe() = %v; want a reset", s, n, err, c.Probe())
		}
	case err != nil:
		return fmt.Errorf("client %v: read %d bytes, then %w", s, n, err)
	case s == storyEcho && n != int64(payload):
		return fmt.Errorf("client %v: echo of %d bytes, want %d", s, n, payload)
	}
	// Only the echo story shut our write side; in the others we still
	// could write, so IsClosed is false until Close (or the reset).
	if got, want := c.IsClosed(), s == storyEcho || s == storyReset; got != want {
		return fmt.Errorf("client %v: IsClosed() = %v before Close, want %v", s, got, want)
	}
	return nil
}

// serve plays the server side of the story the client asks for.
func (r *stressRun) serve(c *trackedconn.Conn, idleReady chan<- struct{}) {
	defer c.Close()
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		r.fail(fmt.Errorf("server: reading the story: %w", err))
		return
	}
	switch s := story(b[0]); s {
	case storyEcho:
		if _, err := io.Copy(c, c); err != nil { // ReadFrom: splice on Linux
			r.fail(fmt.Errorf("server %v: %w", s, err))
		}
	case storyReset:
		if err := c.NetConn().(*net.TCPConn).SetLinger(0); err != nil {
			r.fail(fmt.Errorf("server %v: SetLinger: %w", s, err))
		}
	case storyTimeout:
		// Far enough ahead that the deadline is still in the future when
		// the wrapper looks at it, even on a loaded machine under -race: a
		// deadline already past when set is an interruption, not a timeout.
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(b[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
			r.fail(fmt.Errorf("server %v: Read = %v, want a deadline error", s, err))
		}
	case storyClose:
	case storyIdle:
		idleReady <- struct{}{}
		// Blocks until Shutdown closes the conn under it.
		if _, err := c.Read(b[:]); !errors.Is(err, net.ErrClosed) {
			r.fail(fmt.Errorf("server %v: Read = %v, want net.ErrClosed from Shutdown", s, err))
		}
	default:
		r.fail(fmt.Errorf("server: unknown story %d", s))
	}
}

// churnHooks registers and removes callbacks until stop is closed; one in
// eight panics.
func (r *stressRun) churnHooks(stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		e := trackedconn.Event(i % int(trackedconn.EventLeak+1))
		remove := r.reg.On(e, func(trackedconn.State) {
			if i%8 == 0 {
				panic("stress: a callback panics")
			}
		})
		time.Sleep(50 * time.Microsecond)
		remove()
		remove()
	}
}

// watch reads the live sets and counters while conns come and go.
func (r *stressRun) watch(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Millisecond):
		}
		for _, st := range []trackedconn.Stats{r.ln.Stats(), r.d.Stats()} {
			if st.Opened != st.Active+st.Closed {
				r.fail(fmt.Errorf("Stats() = %+v: Opened != Active + Closed", st))
			}
		}
		for _, live := range [][]trackedconn.State{r.ln.Conns(), r.d.Conns()} {
			ids := map[uint64]bool{}
			for _, s := range live {
				if ids[s.ID] {
					r.fail(fmt.Errorf("conn %d listed twice in Conns()", s.ID))
				}
				ids[s.ID] = true
			}
		}
	}
}

// check compares the two ends of every conn and the counters once all
// have closed.
func (r *stressRun) check(t *testing.T) {
	r.log.check(t)
	lst, dst := r.ln.Stats(), r.d.Stats()
	total := r.cfg.clients*r.cfg.conns + r.cfg.idle
	require.Equal(t, uint64(total), lst.Opened, "listener Stats().Opened")
	require.Equal(t, uint64(total), dst.Opened, "dialer Stats().Opened")
	require.Zero(t, lst.Active, "listener Stats().Active")
	require.Zero(t, dst.Active, "dialer Stats().Active")
	require.Empty(t, r.d.Conns(), "dialer Conns()")
	require.Equal(t, int64(2*total), r.closes.Load(), "EventClose callbacks of the Registry")

	snap := r.counters.Snapshot()
	require.Equal(t, uint64(2*total), snap.Total.Opened, "Counters: opened")
	require.Equal(t, uint64(2*total), snap.Total.Closed, "Counters: closed")
	require.Equal(t, uint64(total), snap.ByName["server"].Closed, "Counters: server conns closed")
	require.Equal(t, uint64(total), snap.ByName["client"].Closed, "Counters: client conns closed")

	// Pair the final States: the client's local address is the server's
	// remote address.
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	require.Len(t, r.log.final, 2*total, "conns with an EventClose")
	servers := map[string]trackedconn.State{}
	causes := map[string]uint64{}
	var srvRead, srvWritten, cliRead, cliWritten uint64
	for _, s := range r.log.final {
		causes[s.Cause.String()]++
		switch s.Side {
		case trackedconn.SideServer:
			servers[s.RemoteAddr.String()] = s
			srvRead += uint64(s.BytesRead)
			srvWritten += uint64(s.BytesWritten)
		case trackedconn.SideClient:
			cliRead += uint64(s.BytesRead)
			cliWritten += uint64(s.BytesWritten)
		}
	}
	require.Equal(t, causes, nonZero(snap.Total.ClosedBy), "Counters: closed by cause")
	require.Equal(t, srvRead, lst.BytesRead, "listener Stats().BytesRead = sum over its conns")
	require.Equal(t, srvWritten, lst.BytesWritten, "listener Stats().BytesWritten = sum over its conns")
	require.Equal(t, cliRead, dst.BytesRead, "dialer Stats().BytesRead = sum over its conns")
	require.Equal(t, cliWritten, dst.BytesWritten, "dialer Stats().BytesWritten = sum over its conns")

	for _, cli := range r.log.final {
		if cli.Side != trackedconn.SideClient {
			continue
		}
		addr := cli.LocalAddr.String()
		srv, ok := servers[addr]
		require.True(t, ok, "client conn %s has no server conn", addr)
		s := r.stories[addr]
		w := want[s]
		require.Equal(t, w.server.String(), srv.Cause.String(), "story %v: server Cause (%+v)", s, srv)
		require.Equal(t, w.client.String(), cli.Cause.String(), "story %v: client Cause (%+v)", s, cli)
		require.True(t, srv.Closed && cli.Closed, "story %v: both ends Closed", s)
		if s != storyReset {
			// Nothing is lost when no end resets.
			require.Equal(t, cli.BytesWritten, srv.BytesRead, "story %v: bytes client -> server", s)
			require.Equal(t, srv.BytesWritten, cli.BytesRead, "story %v: bytes server -> client", s)
		}
		switch s {
		case storyEcho:
			require.True(t, srv.PeerClosed && cli.PeerClosed && cli.WriteShut, "story %v: flags %+v / %+v", s, srv, cli)
		case storyReset:
			require.True(t, cli.Reset, "story %v: client Reset (%+v)", s, cli)
		case storyTimeout:
			require.True(t, srv.TimedOut, "story %v: server TimedOut (%+v)", s, srv)
		}
	}
}

// nonZero drops the zero counts of m.
func nonZero(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func envUint(t *testing.T, name string, def uint64) uint64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	require.NoError(t, err, "parse %s", name)
	return n
}

// TestStress runs a few hundred conns through a listener and a dialer at
// once. STRESS_SEED reruns with a given seed.
func TestStress(t *testing.T) {
	seed := envUint(t, "STRESS_SEED", uint64(time.Now().UnixNano()))
	t.Logf("STRESS_SEED=%d", seed)
	runStress(t, stressConfig{clients: 8, conns: 40, idle: 8, payload: 64 << 10}, seed)
}
