package dialer_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

// recorder is a DialObserver that records what it is told.
type recorder struct {
	mu     sync.Mutex
	events []string
	errs   []error
}

func (r *recorder) DialStarted(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "start "+name)
}

func (r *recorder) DialFailed(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "fail "+name)
	r.errs = append(r.errs, err)
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func TestObserve(t *testing.T) {
	ln := tcpListener(t)
	d := dialer.New()
	var r1, r2 recorder
	remove1 := d.Observe(&r1)
	d.Observe(&r2)

	c, err := d.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, c.Close())
	_, err = d.DialContext(dialer.WithName(context.Background(), "named"), "tcp", refusedAddr(t))
	require.Error(t, err)

	want := []string{"start ", "start named", "fail named"}
	assert.Equal(t, want, r1.got(), "first observer")
	assert.Equal(t, want, r2.got(), "second observer")
	require.Len(t, r1.errs, 1)
	assert.Same(t, err, r1.errs[0], "the observer gets the error DialContext returns")

	remove1()
	remove1() // a second call does nothing
	_, err = d.Dial("tcp", refusedAddr(t))
	require.Error(t, err)
	assert.Equal(t, want, r1.got(), "removed observer is not told")
	assert.Equal(t, append(want, "start ", "fail "), r2.got(), "the other observer still is")

	require.Panics(t, func() { d.Observe(nil) }, "Observe(nil)")
}

// TestObserveStartBeforeDial checks that DialStarted runs before the dial
// function returns: an attempt in flight is visible.
func TestObserveStartBeforeDial(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	d := dialer.Wrap(func(ctx context.Context, network, address string) (net.Conn, error) {
		close(entered)
		<-release
		return nil, errors.New("test: no conn")
	})
	var r recorder
	d.Observe(&r)
	done := make(chan error, 1)
	go func() {
		_, err := d.Dial("tcp", "127.0.0.1:1")
		done <- err
	}()
	<-entered
	assert.Equal(t, []string{"start "}, r.got(), "while the dial is in flight")
	close(release)
	require.Error(t, <-done)
	assert.Equal(t, []string{"start ", "fail "}, r.got(), "after it failed")
	assert.Equal(t, uint64(1), d.Failures().Other, "the failure is counted in Failures too")
}

// TestObserveNilConn: a dial function returning neither conn nor error is
// a failure that the observers see, with the dialer's error.
func TestObserveNilConn(t *testing.T) {
	d := dialer.Wrap(func(context.Context, string, string) (net.Conn, error) { return nil, nil })
	var r recorder
	d.Observe(&r)
	_, err := d.Dial("tcp", "127.0.0.1:1")
	require.Error(t, err)
	assert.Equal(t, []string{"start ", "fail "}, r.got())
	require.Len(t, r.errs, 1)
	assert.Same(t, err, r.errs[0])
	assert.Equal(t, uint64(1), d.Failures().Other)
}

func TestWithName(t *testing.T) {
	ln := tcpListener(t)
	var names []string
	var mu sync.Mutex
	hook := trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		if e == trackedconn.EventOpen {
			mu.Lock()
			names = append(names, s.Name)
			mu.Unlock()
		}
	})
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(hook))
	ctx := context.Background()
	for _, tc := range []struct {
		ctx  context.Context
		want string
	}{
		{ctx, "backend"},
		{dialer.WithName(ctx, "payments"), "payments"},
		{dialer.WithName(ctx, "payments"), "payments"}, // the cached option
		{dialer.WithName(ctx, "search"), "search"},
		{dialer.WithName(ctx, ""), "backend"},
	} {
		c, err := d.DialContext(tc.ctx, "tcp", ln.Addr().String())
		require.NoError(t, err)
		st := c.(*trackedconn.Conn).State()
		assert.Equal(t, tc.want, st.Name, "State.Name")
		assert.Equal(t, trackedconn.SideClient, st.Side, "a named conn keeps the Dialer's options")
		require.NoError(t, c.Close())
	}
	assert.Equal(t, []string{"backend", "payments", "payments", "search", "backend"}, names, "hooks see the per-call name")
	assert.Equal(t, uint64(5), d.Stats().Opened, "named conns are in the Dialer's group")

	name, ok := dialer.NameFromContext(dialer.WithName(ctx, "x"))
	assert.True(t, ok)
	assert.Equal(t, "x", name)
	_, ok = dialer.NameFromContext(ctx)
	assert.False(t, ok, "no name in a bare context")
}
