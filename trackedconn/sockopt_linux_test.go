package trackedconn_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/trackedconn"
)

// sockopt reads an integer socket option of c.
func sockopt(t *testing.T, c *net.TCPConn, level, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	require.NoError(t, err, "SyscallConn")
	var (
		v    int
		gerr error
	)
	require.NoError(t, rc.Control(func(fd uintptr) { v, gerr = unix.GetsockoptInt(int(fd), level, opt) }))
	require.NoError(t, gerr, "getsockopt")
	return v
}

func TestKeepAliveAndUserTimeoutApplied(t *testing.T) {
	c, s := tlsPair(t) // beneath TLS
	_ = s
	ka := net.KeepAliveConfig{Enable: true, Idle: 7 * time.Second, Interval: 3 * time.Second, Count: 4}
	tc := trackedconn.Wrap(c, trackedconn.WithKeepAlive(ka), trackedconn.WithUserTimeout(2500*time.Millisecond))
	defer tc.Close()
	raw := c.NetConn().(*net.TCPConn)
	assert.Equal(t, 1, sockopt(t, raw, unix.SOL_SOCKET, unix.SO_KEEPALIVE), "SO_KEEPALIVE")
	assert.Equal(t, 7, sockopt(t, raw, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE), "TCP_KEEPIDLE")
	assert.Equal(t, 3, sockopt(t, raw, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL), "TCP_KEEPINTVL")
	assert.Equal(t, 4, sockopt(t, raw, unix.IPPROTO_TCP, unix.TCP_KEEPCNT), "TCP_KEEPCNT")
	assert.Equal(t, 2500, sockopt(t, raw, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT), "TCP_USER_TIMEOUT")

	requirePanicPrefix(t, "trackedconn: ", func() { trackedconn.WithUserTimeout(0) })
	// Conns without a TCP socket are left alone.
	p1, p2 := net.Pipe()
	defer p2.Close()
	trackedconn.Wrap(p1, trackedconn.WithKeepAlive(ka), trackedconn.WithUserTimeout(time.Second)).Close()
}
