package faultconn_test

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connwatch/connwatch/internal/errclass"
	"github.com/connwatch/connwatch/internal/faultconn"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestQueuedOutcomes(t *testing.T) {
	c := faultconn.New()
	boom := errors.New("boom")
	c.Push(faultconn.Read, faultconn.Short(3, nil), faultconn.Fail(io.EOF), faultconn.Short(100, boom))
	buf := make([]byte, 10)

	n, err := c.Read(buf)
	require.Equal(t, 3, n, "short read")
	require.NoError(t, err, "short read")
	n, err = c.Read(buf)
	require.Zero(t, n, "failed read")
	require.Same(t, io.EOF, err, "the queued error comes back unchanged")
	n, err = c.Read(buf)
	require.Equal(t, 10, n, "a count beyond the buffer is clamped to it")
	require.Same(t, boom, err, "error after bytes")
	n, err = c.Read(buf)
	require.Equal(t, 10, n, "with nothing queued a Read succeeds")
	require.NoError(t, err)

	require.Equal(t, int64(23), c.Reported(faultconn.Read), "bytes reported by Read")
	require.Zero(t, c.Reported(faultconn.Write), "bytes reported by Write")
	require.Equal(t, 4, c.Calls(faultconn.Read), "Read calls")
	require.Zero(t, c.Pending(faultconn.Read), "outcomes left")
}

func TestEveryMethodFails(t *testing.T) {
	c := faultconn.New()
	calls := map[faultconn.Op]func() error{
		faultconn.Write:            func() error { _, err := c.Write([]byte("x")); return err },
		faultconn.CloseRead:        c.CloseRead,
		faultconn.CloseWrite:       c.CloseWrite,
		faultconn.SetDeadline:      func() error { return c.SetDeadline(time.Time{}) },
		faultconn.SetReadDeadline:  func() error { return c.SetReadDeadline(time.Time{}) },
		faultconn.SetWriteDeadline: func() error { return c.SetWriteDeadline(time.Time{}) },
		faultconn.Close:            c.Close,
	}
	for op, call := range calls {
		want := faultconn.OpError(op.String(), errors.New(op.String()))
		c.Push(op, faultconn.Fail(want))
		require.Same(t, want, call(), "%v returns the queued error", op)
	}
}

func TestDefaultAfterClose(t *testing.T) {
	c := faultconn.New()
	require.NoError(t, c.Close(), "first Close")
	_, err := c.Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed, "Read after Close")
	require.ErrorIs(t, c.Close(), net.ErrClosed, "second Close")

	c.SetDefault(faultconn.Read, faultconn.Fail(io.EOF))
	_, err = c.Read(make([]byte, 1))
	require.Same(t, io.EOF, err, "SetDefault overrides the closed default")
}

func TestGate(t *testing.T) {
	c := faultconn.New()
	g := faultconn.NewGate()
	c.Push(faultconn.Write, faultconn.Short(2, nil).Gated(g))
	done := make(chan int)
	go func() {
		n, _ := c.Write([]byte("hello"))
		done <- n
	}()
	<-g.Entered()
	require.Zero(t, c.Reported(faultconn.Write), "a blocked Write reported nothing yet")
	select {
	case <-done:
		t.Fatal("Write returned before the gate was released")
	case <-time.After(10 * time.Millisecond):
	}
	g.Release()
	g.Release() // idempotent
	require.Equal(t, 2, <-done, "Write after release")
	require.Equal(t, int64(2), c.Reported(faultconn.Write), "bytes reported by Write")
}

// TestErrorsClassify checks that the ready-made errors have the class their
// names promise.
func TestErrorsClassify(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want errclass.Class
	}{
		{faultconn.Reset("read"), errclass.Reset},
		{faultconn.SyscallError("read", faultconn.ErrnoAborted), errclass.Reset},
		{faultconn.BrokenPipe(), errclass.BrokenPipe},
		{faultconn.SyscallError("read", faultconn.ErrnoTimedOut), errclass.TimedOut},
		{faultconn.Timeout("read"), errclass.Deadline},
		{faultconn.Closed("write"), errclass.Closed},
	} {
		require.Equal(t, tt.want, errclass.Classify(tt.err), "Classify(%v)", tt.err)
	}
	require.ErrorIs(t, faultconn.Timeout("read"), os.ErrDeadlineExceeded)
}

func TestNoHalfClose(t *testing.T) {
	var c net.Conn = faultconn.NoHalfClose(faultconn.New())
	_, ok := c.(interface{ CloseWrite() error })
	require.False(t, ok, "NoHalfClose must hide CloseWrite")
	_, ok = c.(interface{ CloseRead() error })
	require.False(t, ok, "NoHalfClose must hide CloseRead")
	require.NoError(t, c.Close())
}
