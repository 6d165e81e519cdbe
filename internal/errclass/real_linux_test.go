package errclass

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/internal/conntest/fullqueue"
)

// TestRealDialTimeout shows what a Dialer.Timeout failure looks like: the
// chain holds context.DeadlineExceeded when the context's timer wins, and
// os.ErrDeadlineExceeded when the poller's timer wins; both must be
// ContextDeadline.
func TestRealDialTimeout(t *testing.T) {
	addr := fullqueue.Addr(t)
	d := net.Dialer{Timeout: 2 * time.Millisecond}
	var failed, viaCtx, viaPoller int
	for range 20 {
		c, err := d.Dial("tcp", addr)
		if err == nil {
			c.Close() // the kernel let one more in; not what this test is about
			continue
		}
		failed++
		if errors.Is(err, context.DeadlineExceeded) {
			viaCtx++
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			viaPoller++
		}
		assert.Equal(t, ContextDeadline, Classify(err), "Classify(%s)", chain(err))
	}
	t.Logf("%d dials timed out: %d matched context.DeadlineExceeded, %d os.ErrDeadlineExceeded", failed, viaCtx, viaPoller)
	require.GreaterOrEqual(t, failed, 10, "dials to a full accept queue must time out")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel()
	_, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	checkClass(t, err, ContextDeadline)
}

// TestRealTimedOut makes the kernel give up on a conn: the peer advertises a
// zero window and TCP_USER_TIMEOUT is 1ms, so Linux aborts the conn after its
// first zero-window probe (about 200ms) and the blocked write gets ETIMEDOUT.
func TestRealTimedOut(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, server.SetReadBuffer(1))
	require.NoError(t, client.SetWriteBuffer(1))
	rc, err := client.SyscallConn()
	require.NoError(t, err)
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 1)
	}))
	require.NoError(t, serr)
	require.NoError(t, client.SetWriteDeadline(time.Now().Add(3*time.Second)))

	buf := make([]byte, 64<<10)
	for err == nil {
		_, err = client.Write(buf)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Skip("this kernel does not abort zero-window probing on TCP_USER_TIMEOUT")
	}
	checkClass(t, err, TimedOut)
	assert.NotErrorIs(t, err, os.ErrDeadlineExceeded, "ETIMEDOUT is not a conn deadline")
}
