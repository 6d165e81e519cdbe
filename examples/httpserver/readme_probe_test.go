//go:build !windows

// Probe answers LivenessUnknown on Windows.

package main

import (
	"fmt"
	"log"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// Is the peer still there? Probe peeks at the socket: it never blocks and
// never consumes data.
func Example_probe() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	conn, err := dialer.New().Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	server, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}

	c := conn.(*trackedconn.Conn)
	fmt.Println(c.Probe(), usable(c)) // open true
	server.Close()
	waitFIN(c)
	fmt.Println(c.Probe(), usable(c)) // peer-closed false: nothing was read
	// Output:
	// open true
	// peer-closed false
}

// usable tells whether a pooled conn is worth reusing.
func usable(c *trackedconn.Conn) bool {
	switch c.Probe() {
	case trackedconn.LivenessOpen:
		return true // the peer is there, nothing unread
	case trackedconn.LivenessReadable:
		return false // unexpected bytes (or a FIN behind them) are waiting
	default:
		return false // peer-closed, reset, closed, or unknown
	}
}

// waitFIN waits until the peer's FIN reaches c.
func waitFIN(c *trackedconn.Conn) {
	for i := 0; i < 1000 && c.Probe() == trackedconn.LivenessOpen; i++ {
		time.Sleep(time.Millisecond)
	}
}
