package fullqueue

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Addr returns the address of a loopback listener whose accept queue is
// full (a backlog of 0, and one conn in it), so that Linux drops further
// SYNs and a dial hangs until its deadline. The listener and its conn are
// closed when the test ends.
func Addr(t testing.TB) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err, "socket")
	t.Cleanup(func() { unix.Close(fd) })
	require.NoError(t, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}), "bind")
	require.NoError(t, unix.Listen(fd, 0), "listen with a backlog of 0") // the queue holds one conn
	sa, err := unix.Getsockname(fd)
	require.NoError(t, err, "getsockname")
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port))

	filler, err := net.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err, "the first conn fits in the queue")
	t.Cleanup(func() { filler.Close() })
	return addr
}
