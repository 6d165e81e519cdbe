package trackedconn_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// Who closed the conn? The peer did: the read saw io.EOF first.
func ExampleWrap() {
	client, server := net.Pipe()
	c := trackedconn.Wrap(client, trackedconn.WithName("demo"))
	go func() {
		server.Write([]byte("hello"))
		server.Close()
	}()

	b, err := io.ReadAll(c) // io.ReadAll turns the peer's io.EOF into a nil error
	fmt.Printf("read %q, err %v\n", b, err)
	st := c.State()
	fmt.Println("name:", st.Name, "bytes read:", st.BytesRead, "peer closed:", st.PeerClosed)
	fmt.Println("no more I/O possible:", c.IsClosed()) // we may still write

	c.Close()
	fmt.Println("cause:", c.State().Cause, "no more I/O possible:", c.IsClosed())
	// Output:
	// read "hello", err <nil>
	// name: demo bytes read: 5 peer closed: true
	// no more I/O possible: false
	// cause: peer no more I/O possible: true
}

// Hooks see each transition once, after the State was updated.
func ExampleWithHook() {
	logEvent := trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		fmt.Printf("%-11s closed=%-5v cause=%v\n", e, s.Closed, s.Cause)
	})
	client, server := net.Pipe()
	c := trackedconn.Wrap(client, trackedconn.WithHook(logEvent))
	server.Close()
	c.Read(make([]byte, 1)) // io.EOF: the peer closed
	c.Close()
	// Output:
	// open        closed=false cause=none
	// peer-closed closed=false cause=none
	// close       closed=true  cause=peer
}

// A client sends a request, half-closes, and reads the answer. Once the
// peer's EOF is read too, no more I/O is possible although Close was not
// called yet.
func ExampleConn_CloseWrite() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req, _ := io.ReadAll(conn) // until the client's CloseWrite
		fmt.Fprintf(conn, "got %d bytes", len(req))
	}()

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	c := trackedconn.Wrap(raw)
	defer c.Close()
	c.Write([]byte("request"))
	c.CloseWrite()
	resp, _ := io.ReadAll(c)
	<-served

	st := c.State()
	fmt.Println(string(resp))
	fmt.Println("write shut:", st.WriteShut, "peer closed:", st.PeerClosed, "closed:", st.Closed)
	fmt.Println("no more I/O possible:", c.IsClosed())
	// Output:
	// got 7 bytes
	// write shut: true peer closed: true closed: false
	// no more I/O possible: true
}

// A timeout is recorded, and becomes the Cause if nothing else went wrong
// before Close. The error is returned unchanged.
func ExampleConn_SetReadDeadline() {
	client, server := net.Pipe()
	defer server.Close()
	c := trackedconn.Wrap(client)

	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 1)) // nothing comes: waits 50ms
	fmt.Println("deadline exceeded:", errors.Is(err, os.ErrDeadlineExceeded), "timed out:", c.State().TimedOut)
	c.Close()
	fmt.Println("cause:", c.State().Cause)
	// Output:
	// deadline exceeded: true timed out: true
	// cause: timeout
}

// A peer that closes with SO_LINGER 0 resets the connection.
func ExampleConn_State_reset() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	peer, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	c := trackedconn.Wrap(raw)
	peer.(*net.TCPConn).SetLinger(0)
	peer.Close()

	c.Read(make([]byte, 1)) // ECONNRESET
	st := c.State()
	fmt.Println("reset:", st.Reset, "peer closed:", st.PeerClosed, "no more I/O possible:", c.IsClosed())
	c.Close()
	fmt.Println("cause:", c.State().Cause)
	// Output:
	// reset: true peer closed: false no more I/O possible: true
	// cause: reset
}

// A Group lists the live conns, oldest first, and keeps counters over every
// conn it saw.
func ExampleGroup() {
	var g trackedconn.Group
	c1, p1 := net.Pipe()
	c2, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	first := trackedconn.Wrap(c1, trackedconn.WithGroup(&g), trackedconn.WithName("first"))
	second := trackedconn.Wrap(c2, trackedconn.WithGroup(&g), trackedconn.WithName("second"))

	go p1.Read(make([]byte, 5))
	first.Write([]byte("hello"))
	for _, st := range g.Conns() {
		fmt.Println(st.Name, st.BytesWritten)
	}

	first.Close()
	fmt.Printf("%+v\n", g.Stats())
	second.Close()
	fmt.Println("live:", len(g.Conns()))
	// Output:
	// first 5
	// second 0
	// {Opened:2 Active:1 Closed:1 BytesRead:0 BytesWritten:5}
	// live: 0
}
