package dialer_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

// tcpListener returns a TCP listener on 127.0.0.1 that accepts in the
// background and closes what it accepts at the end of the test.
func tcpListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	accepted := make(chan []net.Conn, 1)
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- conns
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range <-accepted {
			c.Close()
		}
	})
	return ln
}

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestDial(t *testing.T) {
	ln := tcpListener(t)
	var userGroup trackedconn.Group
	opened := 0
	d := dialer.New(trackedconn.WithName("db"), trackedconn.WithGroup(&userGroup),
		trackedconn.WithHook(trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
			if e == trackedconn.EventOpen {
				opened++
			}
		})))
	c, err := d.Dial("tcp", ln.Addr().String())
	require.NoError(t, err, "Dial")
	tc, ok := c.(*trackedconn.Conn)
	require.True(t, ok, "Dial returns a *trackedconn.Conn, got %T", c)
	st := tc.State()
	assert.Equal(t, trackedconn.SideClient, st.Side, "Side")
	assert.Equal(t, "db", st.Name, "Name")
	assert.Equal(t, ln.Addr().String(), st.RemoteAddr.String(), "RemoteAddr")
	assert.Equal(t, 1, opened, "EventOpen fired by Dial")

	conns := d.Conns()
	require.Len(t, conns, 1)
	assert.Equal(t, tc.ID(), conns[0].ID)
	assert.Equal(t, trackedconn.Stats{Opened: 1, Active: 1}, d.Stats())
	assert.Equal(t, trackedconn.Stats{}, userGroup.Stats(), "a user WithGroup is overridden by the dialer's own group")

	require.NoError(t, c.Close())
	assert.Equal(t, trackedconn.Stats{Opened: 1, Closed: 1}, d.Stats())
	assert.Empty(t, d.Conns())
	assert.Equal(t, dialer.Failures{}, d.Failures())
}

func TestZeroDialer(t *testing.T) {
	ln := tcpListener(t)
	var d dialer.Dialer
	c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err, "DialContext of a zero Dialer")
	assert.Equal(t, trackedconn.SideClient, c.(*trackedconn.Conn).State().Side)
	assert.Equal(t, uint64(1), d.Stats().Active)
	require.NoError(t, c.Close())
}

func TestWrapNil(t *testing.T) {
	assert.PanicsWithValue(t, "dialer: Wrap(nil)", func() { dialer.Wrap(nil) })
}

func TestWrapDialFunc(t *testing.T) {
	ln := tcpListener(t)
	var gotNetwork, gotAddr string
	nd := &net.Dialer{Timeout: time.Second}
	d := dialer.Wrap(func(ctx context.Context, network, address string) (net.Conn, error) {
		gotNetwork, gotAddr = network, address
		return nd.DialContext(ctx, network, address)
	})
	c, err := d.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "tcp4", gotNetwork)
	assert.Equal(t, ln.Addr().String(), gotAddr)
	assert.Equal(t, uint64(1), d.Stats().Opened)
}

func TestDialErrorUnchanged(t *testing.T) {
	want := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("proxy said no")}
	d := dialer.Wrap(func(context.Context, string, string) (net.Conn, error) { return nil, want })
	c, err := d.Dial("tcp", "example.test:80")
	assert.Nil(t, c)
	assert.Same(t, want, err, "the dial function's error, unchanged")
	assert.Equal(t, dialer.Failures{Other: 1}, d.Failures())
	assert.Equal(t, trackedconn.Stats{}, d.Stats(), "a failed dial is not a conn")
}

func TestDialNilConnNilError(t *testing.T) {
	d := dialer.Wrap(func(context.Context, string, string) (net.Conn, error) { return nil, nil })
	c, err := d.Dial("tcp", "example.test:80")
	assert.Nil(t, c, "no conn")
	assert.Error(t, err, "a dial function that returns (nil, nil)")
	assert.Equal(t, dialer.Failures{Other: 1}, d.Failures())
}

func TestFailuresRealDials(t *testing.T) {
	d := dialer.New()

	_, err := d.Dial("tcp", refusedAddr(t))
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the error is the net.Dialer's, unchanged")

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = d.DialContext(canceled, "tcp", refusedAddr(t))
	assert.ErrorIs(t, err, context.Canceled)

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = d.DialContext(expired, "tcp", refusedAddr(t))
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	assert.Equal(t, dialer.Failures{Refused: 1, Canceled: 1, Timeout: 1}, d.Failures())
	assert.Equal(t, uint64(3), d.Failures().Total())
}

// Errors that a loopback test cannot provoke, as dial functions return them.
func TestFailuresByKind(t *testing.T) {
	errs := []struct {
		err  error
		want dialer.Failures
	}{
		{&net.DNSError{Err: "no such host", Name: "db.invalid", IsNotFound: true}, dialer.Failures{DNS: 1}},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "i/o timeout", Name: "db", IsTimeout: true}}, dialer.Failures{DNS: 1}},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}, dialer.Failures{Unreachable: 1}},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ETIMEDOUT)}, dialer.Failures{Timeout: 1}},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, dialer.Failures{Timeout: 1}},
		{&tls.CertificateVerificationError{Err: errors.New("unknown authority")}, dialer.Failures{TLS: 1}},
		{&net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}, dialer.Failures{Canceled: 1}},
		{errors.New("socks: general failure"), dialer.Failures{Other: 1}},
	}
	for _, tt := range errs {
		d := dialer.Wrap(func(context.Context, string, string) (net.Conn, error) { return nil, tt.err })
		_, err := d.Dial("tcp", "db:5432")
		assert.Same(t, tt.err, err)
		assert.Equal(t, tt.want, d.Failures(), "Failures after %v", tt.err)
	}
}
