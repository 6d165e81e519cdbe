//go:build !windows

// Probe answers LivenessUnknown on Windows.

package dialer_test

import (
	"fmt"
	"net"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

// A pool that never reads its idle conns (unlike http.Transport, whose
// read loop notices a FIN by itself) holds one whose peer has closed:
// CloseIf reaps it and leaves the healthy one. From d.CloseIf on, the body
// is the README's snippet.
func ExampleDialer_CloseIf_idlePool() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	d := dialer.New()
	dial := func() (*trackedconn.Conn, net.Conn) {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		s, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		return c.(*trackedconn.Conn), s
	}
	gone, goneServer := dial()
	alive, aliveServer := dial()
	defer alive.Close()
	defer aliveServer.Close()
	goneServer.Close() // the pool has not noticed
	for i := 0; i < 5000 && gone.Probe() == trackedconn.LivenessOpen; i++ {
		time.Sleep(time.Millisecond) // until the FIN has arrived
	}

	d.CloseIf(func(p trackedconn.Probed) bool { // d: the dialer.Dialer your pool dials through
		return p.Liveness == trackedconn.LivenessStalled || p.Liveness == trackedconn.LivenessPeerClosed
	})
	fmt.Println("gone closed:", gone.IsClosed(), "alive closed:", alive.IsClosed(), "live:", d.Stats().Active)
	// Output: gone closed: true alive closed: false live: 1
}
