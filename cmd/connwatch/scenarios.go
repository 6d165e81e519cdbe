package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

// The demo's scenarios. Each plays one way a conn ends between a tracked
// client and a tracked server on loopback and returns both conns' IDs.

func (d *demo) localClose() (uint64, uint64, error) {
	c, s, err := d.greeted()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	c.Close()
	waitTCPState(s, "close-wait")
	// The client's FIN is there, unread: the server's Close looks at the
	// socket once and finds it, so its Cause is peer (local where the
	// platform has no TCP view to look at).
	s.Close()
	return c.ID(), s.ID(), nil
}

// waitTCPState waits up to a second for the kernel to show c in the TCP
// state want, without recording anything; it returns at once where c has
// no TCP view.
func waitTCPState(c *trackedconn.Conn, want string) {
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		ti, err := c.TCPInfo()
		if err != nil || ti.State == want {
			return
		}
	}
}

func (d *demo) peerClose() (uint64, uint64, error) {
	c, s, err := d.pair()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	if _, err := c.Write([]byte("hello")); err != nil {
		return 0, 0, err
	}
	c.Close()
	if _, err := io.ReadAll(s); err != nil { // until the client's EOF
		return 0, 0, err
	}
	s.Close()
	return c.ID(), s.ID(), nil
}

func (d *demo) halfClose() (uint64, uint64, error) {
	c, s, err := d.pair()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	if _, err := c.Write([]byte("request")); err != nil {
		return 0, 0, err
	}
	if err := c.CloseWrite(); err != nil {
		return 0, 0, err
	}
	if _, err := io.ReadAll(s); err != nil { // the request, then EOF
		return 0, 0, err
	}
	if _, err := s.Write([]byte("response")); err != nil {
		return 0, 0, err
	}
	if err := s.CloseWrite(); err != nil {
		return 0, 0, err
	}
	if _, err := io.ReadAll(c); err != nil { // the response, then EOF
		return 0, 0, err
	}
	c.Close()
	s.Close()
	return c.ID(), s.ID(), nil
}

func (d *demo) reset() (uint64, uint64, error) {
	c, s, err := d.pair()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	if err := abort(s); err != nil {
		return 0, 0, err
	}
	n, err := c.Read(make([]byte, 1))
	if err == nil || errors.Is(err, io.EOF) {
		return 0, 0, fmt.Errorf("read after the peer's RST: %d bytes, err %v; want a reset", n, err)
	}
	c.Close()
	return c.ID(), s.ID(), nil
}

func (d *demo) timeout() (uint64, uint64, error) {
	c, s, err := d.pair()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	c.SetReadDeadline(time.Now().Add(readTimeout))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, 0, fmt.Errorf("read past the deadline: err %v; want a timeout", err)
	}
	c.Close()
	if _, err := io.ReadAll(s); err != nil {
		return 0, 0, err
	}
	s.Close()
	return c.ID(), s.ID(), nil
}

func (d *demo) leak() (uint64, uint64, error) {
	cid, err := dialAndDrop(d.leakDial, d.ln.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	s, err := d.accept()
	if err != nil {
		return 0, 0, err
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(ioTimeout + leakWait))

	// The leak detector is the runtime's cleanup of the dropped *Conn: it
	// runs once a garbage collection finds the conn unreachable.
	var st trackedconn.State
	gcs, start := 0, time.Now()
wait:
	for {
		runtime.GC()
		gcs++
		select {
		case st = <-d.leaked:
			break wait
		case <-time.After(20 * time.Millisecond):
		}
		if time.Since(start) > leakWait {
			return 0, 0, fmt.Errorf("the dropped conn %d was not reclaimed after %d garbage collections in %v "+
				"(leak detection finds a conn only when the GC sees it unreachable)", cid, gcs, leakWait)
		}
	}
	d.leakRep = &leakReport{ID: st.ID, Origin: userFrame(st.Origin), GCs: gcs}

	if _, err := io.ReadAll(s); err != nil { // "dropped", then the reclaimed conn's FIN
		return 0, 0, err
	}
	s.Close()
	return cid, s.ID(), nil
}

// dialAndDrop dials a conn, writes to it and drops it without Close. It
// returns only the conn's ID, so nothing keeps the conn reachable.
//
//go:noinline
func dialAndDrop(dl *dialer.Dialer, addr string) (uint64, error) {
	c, err := dl.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	tc := c.(*trackedconn.Conn)
	tc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := tc.Write([]byte("dropped")); err != nil {
		tc.Close()
		return 0, err
	}
	return tc.ID(), nil // no Close: the leak
}

func (d *demo) probe() (uint64, uint64, error) {
	c, s, err := d.pair()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	d.probed("probe", "fresh conn, nothing sent", c.Probe())
	if _, err := s.Write([]byte("x")); err != nil {
		return 0, 0, err
	}
	d.probed("probe", "the server wrote 1 byte", probeUntilChange(c))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		return 0, 0, err
	}
	d.probed("probe", "the client read it", c.Probe())
	s.Close()
	d.probed("probe", "the server closed (FIN)", probeUntilChange(c))
	c.Close()
	d.probed("probe", "the client closed", c.Probe())
	return c.ID(), s.ID(), nil
}

func (d *demo) probeReset() (uint64, uint64, error) {
	c, s, err := d.pair()
	if err != nil {
		return 0, 0, err
	}
	defer closeBoth(c, s)
	if err := abort(s); err != nil {
		return 0, 0, err
	}
	d.probed("probe-reset", "the server closed with SO_LINGER 0 (RST)", probeUntilChange(c))
	c.Close()
	return c.ID(), s.ID(), nil
}

func (d *demo) probed(scenario, step string, l trackedconn.Liveness) {
	d.probes = append(d.probes, probeStep{Scenario: scenario, Step: step, Liveness: l.String()})
}

// probeUntilChange probes c until it answers something other than open:
// the segment the server just sent may still be on its way.
func probeUntilChange(c *trackedconn.Conn) trackedconn.Liveness {
	deadline := time.Now().Add(probeWait)
	for {
		l := c.Probe()
		if l != trackedconn.LivenessOpen || time.Now().After(deadline) {
			return l
		}
		time.Sleep(time.Millisecond)
	}
}

// abort closes c with SO_LINGER 0, so the kernel sends RST instead of FIN.
// The option is set on the inner conn, reached through NetConn.
func abort(c *trackedconn.Conn) error {
	l, ok := c.NetConn().(interface{ SetLinger(sec int) error })
	if !ok {
		return fmt.Errorf("%T has no SetLinger", c.NetConn())
	}
	if err := l.SetLinger(0); err != nil {
		return err
	}
	return c.Close()
}

func closeBoth(a, b *trackedconn.Conn) {
	a.Close()
	b.Close()
}

// libPrefix is the import path prefix of connwatch's packages.
const libPrefix = "github.com/connwatch/connwatch/"
