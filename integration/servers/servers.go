// Package servers starts real servers for tests: redis-server and
// PostgreSQL from their Debian packages, each on a free loopback port, in a
// temp dir, stopped at cleanup.
//
// A server whose package is not installed skips the test with one line
// naming the package; with CI=true it fails the test instead, so a missing
// install step in CI cannot hide. A server that is installed and does not
// start fails the test.
package servers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// TB is the part of testing.TB the package uses.
type TB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// InCI reports whether the tests run in CI (CI=true), where a missing
// server fails.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need returns the path of the program name from the Debian package pkg,
// looked up in dirs first, then in PATH. Without it, the test skips with
// one line naming the package, or fails in CI.
func Need(t TB, name, pkg string, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if InCI() {
		t.Fatalf("servers: %s not found: CI must install the Debian package %s", name, pkg)
	}
	t.Skipf("servers: %s not found; install the Debian package %s to run this test", name, pkg)
	return ""
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
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
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// proc is a started server process.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// start starts cmd with its output appended to logPath.
func start(cmd *exec.Cmd, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("servers: start %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.exited) }()
	return p, nil
}

// stop sends sig and waits for the process, killing it after 30 s.
func (p *proc) stop(sig os.Signal) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}
