package integration

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// inCI reports whether the tests run in CI, where a missing server fails.
func inCI() bool { return os.Getenv("CI") == "true" }

// need returns the path of the program name from the Debian package pkg.
// Without it, the test skips with one line naming the package, or fails in
// CI.
func need(t testing.TB, name, pkg string, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		if p := d + "/" + name; isExec(p) {
			return p
		}
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if inCI() {
		t.Fatalf("integration: %s not found: CI must install the Debian package %s", name, pkg)
	}
	t.Skipf("integration: %s not found; install the Debian package %s to run this test", name, pkg)
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := pickPort()
	require.NoError(t, err, "listen for a free port")
	return port
}

func pickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitPort waits until something accepts on 127.0.0.1:port, or until
// exited is closed or d passes.
func waitPort(port int, exited <-chan struct{}, d time.Duration) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tracker is a dialer.Dialer that also keeps every conn it dialed, so a
// test can read the final State of conns the pool closed, and counts
// closes by cause.
type tracker struct {
	*dialer.Dialer
	Counters *hooks.Counters

	mu    sync.Mutex
	conns []*trackedconn.Conn
}

func newTracker(name string) *tracker {
	c := hooks.NewCounters()
	return &tracker{
		Dialer:   dialer.New(trackedconn.WithName(name), trackedconn.WithHook(c)),
		Counters: c,
	}
}

// DialContext dials as the Dialer does and keeps the conn.
func (tr *tracker) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := tr.Dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	tr.mu.Lock()
	tr.conns = append(tr.conns, c.(*trackedconn.Conn))
	tr.mu.Unlock()
	return c, nil
}

// Dialed returns the conns dialed so far, oldest first.
func (tr *tracker) Dialed() []*trackedconn.Conn {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]*trackedconn.Conn(nil), tr.conns...)
}

// closedBy returns the Counters' closes by cause.
func (tr *tracker) closedBy() map[string]uint64 {
	return tr.Counters.Snapshot().Total.ClosedBy
}

// stateLog is a hook that keeps the final State of every closed conn.
type stateLog struct {
	mu     sync.Mutex
	closed []trackedconn.State
}

func (l *stateLog) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	if e != trackedconn.EventClose {
		return
	}
	l.mu.Lock()
	l.closed = append(l.closed, s)
	l.mu.Unlock()
}

func (l *stateLog) Closed() []trackedconn.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]trackedconn.State(nil), l.closed...)
}
