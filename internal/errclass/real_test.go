package errclass

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file classify errors that real loopback sockets return,
// so that a change in what the standard library or the kernel reports shows
// up here rather than as a wrong Cause in trackedconn.

// chain describes err's chain for test logs: each type down the Unwrap line.
func chain(err error) string {
	var b strings.Builder
	for e := err; e != nil; e = errors.Unwrap(e) {
		if b.Len() > 0 {
			b.WriteString(" > ")
		}
		fmt.Fprintf(&b, "%T", e)
	}
	return fmt.Sprintf("%v [%s]", err, b.String())
}

// checkClass asserts that err is non-nil and of class want.
func checkClass(t *testing.T, err error, want Class) {
	t.Helper()
	require.Error(t, err, "the recipe must fail")
	t.Logf("err = %s", chain(err))
	assert.Equal(t, want, Classify(err), "Classify(%s)", chain(err))
}

// listen returns a loopback TCP listener that the test closes.
func listen(t *testing.T) *net.TCPListener {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}

// tcpPair returns both ends of a loopback TCP connection; the test closes them.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln := listen(t)
	client, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	// The kernel completed the handshake, so Accept does not block.
	server, err = ln.AcceptTCP()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	// Safety net only: no recipe below should wait this long.
	deadline := time.Now().Add(5 * time.Second)
	require.NoError(t, client.SetDeadline(deadline))
	require.NoError(t, server.SetDeadline(deadline))
	return client, server
}

// resetPeer makes c send RST instead of FIN, and closes it.
func resetPeer(t *testing.T, c *net.TCPConn) {
	t.Helper()
	require.NoError(t, c.SetLinger(0))
	require.NoError(t, c.Close())
}

func TestRealEOF(t *testing.T) {
	client, server := tcpPair(t)
	require.NoError(t, server.Close())
	_, err := client.Read(make([]byte, 1))
	assert.Same(t, io.EOF, err, "a read after the peer's FIN returns io.EOF itself")
	checkClass(t, err, EOF)

	// io.ReadFull turns an EOF after some bytes into io.ErrUnexpectedEOF.
	client, server = tcpPair(t)
	_, err = server.Write([]byte("ab"))
	require.NoError(t, err)
	require.NoError(t, server.Close())
	_, err = io.ReadFull(client, make([]byte, 4))
	checkClass(t, err, EOF)
}

func TestRealClosed(t *testing.T) {
	client, _ := tcpPair(t)
	require.NoError(t, client.Close())
	_, err := client.Read(make([]byte, 1))
	checkClass(t, err, Closed)
	_, err = client.Write([]byte("x"))
	checkClass(t, err, Closed)
	err = client.Close()
	checkClass(t, err, Closed)

	ln := listen(t)
	require.NoError(t, ln.Close())
	_, err = ln.Accept()
	checkClass(t, err, Closed)
}

func TestRealPipe(t *testing.T) {
	a, b := net.Pipe()
	require.NoError(t, a.Close())
	_, err := a.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.ErrClosedPipe)
	checkClass(t, err, Closed)
	_, err = b.Read(make([]byte, 1))
	checkClass(t, err, EOF)
	_, err = b.Write([]byte("x"))
	checkClass(t, err, Closed) // net.Pipe reports a closed peer as io.ErrClosedPipe
	require.NoError(t, b.Close())
}

func TestRealReset(t *testing.T) {
	client, server := tcpPair(t)
	resetPeer(t, server)
	_, err := client.Read(make([]byte, 1))
	checkClass(t, err, Reset)

	// The read consumed the pending ECONNRESET; Linux now answers a write
	// with EPIPE. Other kernels may say ECONNRESET again.
	_, err = client.Write([]byte("x"))
	if runtime.GOOS == "linux" {
		checkClass(t, err, BrokenPipe)
	} else {
		require.Error(t, err)
		t.Logf("err = %s", chain(err))
		assert.Contains(t, []Class{Reset, BrokenPipe}, Classify(err), "Classify(%s)", chain(err))
	}
}

func TestRealBrokenPipeAfterCloseWrite(t *testing.T) {
	// A write after our own CloseWrite is EPIPE on Unix and WSAESHUTDOWN on
	// Windows: both BrokenPipe, with no timing involved.
	client, _ := tcpPair(t)
	require.NoError(t, client.CloseWrite())
	_, err := client.Write([]byte("x"))
	checkClass(t, err, BrokenPipe)
}

func TestRealWriteAfterPeerClose(t *testing.T) {
	// The peer closes normally (FIN) and answers our data with RST; whether
	// a write then sees ECONNRESET or EPIPE is up to the kernel's timing.
	client, server := tcpPair(t)
	require.NoError(t, server.Close())
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		_, err = client.Write([]byte("ping"))
		if err == nil {
			runtime.Gosched() // let the RST arrive; not needed for correctness
		}
	}
	require.Error(t, err, "writes to a closed peer must fail eventually")
	t.Logf("err = %s", chain(err))
	assert.Contains(t, []Class{Reset, BrokenPipe}, Classify(err), "Classify(%s)", chain(err))
}

func TestRealRefused(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err := net.DialTimeout("tcp", addr, 5*time.Second)
	checkClass(t, err, Refused)
}

func TestRealConnDeadline(t *testing.T) {
	client, _ := tcpPair(t)
	require.NoError(t, client.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err := client.Read(make([]byte, 1))
	checkClass(t, err, Deadline)

	require.NoError(t, client.SetWriteDeadline(time.Now().Add(-time.Second)))
	_, err = client.Write([]byte("x"))
	checkClass(t, err, Deadline)
}

func TestRealDialContext(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	var d net.Dialer

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := d.DialContext(ctx, "tcp", addr)
	checkClass(t, err, Canceled)

	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = d.DialContext(ctx, "tcp", addr)
	checkClass(t, err, ContextDeadline)

	_, err = (&net.Dialer{Deadline: time.Now().Add(-time.Second)}).Dial("tcp", addr)
	checkClass(t, err, ContextDeadline)
}
