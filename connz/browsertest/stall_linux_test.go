package browsertest

import (
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/dialer"
)

// stalledConn dials with d a peer that then vanishes: both ends live in a
// private network namespace whose loopback gets a blackhole qdisc, so the
// bytes written on the dialed conn are never acknowledged and Probe reads
// it stalled. It returns nil, with the reason, where no namespace can be
// made (not root, no unshare, no blackhole qdisc). The conns, once made,
// are used from the test's own namespace like any other: a socket stays in
// the namespace it was made in.
func stalledConn(t *testing.T, d *dialer.Dialer) (conns []net.Conn, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil, "not root"
	}
	type result struct {
		conns []net.Conn
		why   string
	}
	done := make(chan result, 1)
	go func() {
		// The thread enters the namespace and never leaves it: the
		// goroutine ends locked, so the runtime discards the thread.
		runtime.LockOSThread()
		fail := func(why string, err error) { done <- result{nil, why + ": " + err.Error()} }
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			fail("unshare -n", err)
			return
		}
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			fail("ip link set lo up: "+string(out), err)
			return
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fail("listen in the namespace", err)
			return
		}
		defer ln.Close()
		client, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			fail("dial in the namespace", err)
			return
		}
		server, err := ln.Accept()
		if err != nil {
			client.Close()
			fail("accept in the namespace", err)
			return
		}
		if out, err := exec.Command("tc", "qdisc", "add", "dev", "lo", "root", "blackhole").CombinedOutput(); err != nil {
			client.Close()
			server.Close()
			fail("tc qdisc add dev lo root blackhole: "+string(out), err)
			return
		}
		done <- result{[]net.Conn{client, server}, ""}
	}()
	r := <-done
	if r.why != "" {
		return nil, r.why
	}
	// Data in flight that nobody acknowledges: retransmission timeouts fire.
	if _, err := r.conns[0].Write([]byte("SELECT 1; -- to a peer that vanished")); err != nil {
		return r.conns, "write: " + err.Error()
	}
	return r.conns, ""
}
