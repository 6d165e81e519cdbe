package main

// The README's quickstart snippets, compiled and run. Each Example's body
// is what the README shows.

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// A drop-in for net.Listen: every accepted conn is a *trackedconn.Conn.
func Example_listen() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0") // instead of net.Listen
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go sayHello(ln.Addr().String()) // a client writes "hello" and closes

	conn, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	io.ReadAll(conn) // "hello", then the client's EOF
	conn.Close()

	st := conn.(*trackedconn.Conn).State()
	fmt.Println(st.Side, st.BytesRead, st.PeerClosed, st.Cause)
	// Output: server 5 true peer
}

// An http.Server on a tracked listener: the listener sees the conns the
// server accepts, so Stats shows keep-alive at work.
func Example_httpServer() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("web"))
	if err != nil {
		log.Fatal(err)
	}
	handler := http.HandlerFunc(hello)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background()) // closes ln and the idle conns

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()           // runs first: the conn stays open until Stats
	getN(tr, 3, "http://"+ln.Addr().String()) // 3 requests on one keep-alive client
	st := ln.Stats()
	fmt.Println("conns opened:", st.Opened, "live:", st.Active)
	// Output: conns opened: 1 live: 1
}

// Hooks for metrics and logs: a Counters counts conns by event and cause
// (it is an expvar.Var: expvar.Publish("conns", counters) serves it on
// /debug/vars); a Registry runs callbacks added and removed at run time.
func Example_hooks() {
	counters := hooks.NewCounters()
	reg := hooks.New()
	remove := reg.OnClose(func(s trackedconn.State) {
		fmt.Printf("conn closed: side=%v cause=%v read=%d\n", s.Side, s.Cause, s.BytesRead)
	})
	defer remove()
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithHook(counters), trackedconn.WithHook(reg))
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	go sayHello(ln.Addr().String())
	conn, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	io.ReadAll(conn)
	conn.Close()
	fmt.Println("closed by cause:", counters.Snapshot().Total.ClosedBy)
	// Output:
	// conn closed: side=server cause=peer read=5
	// closed by cause: map[peer:1]
}

// sayHello dials addr, writes "hello" and closes.
func sayHello(addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	c.Write([]byte("hello"))
	c.Close()
}

func hello(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") }

// getN GETs url n times with one client, draining the bodies.
func getN(tr *http.Transport, n int, url string) {
	client := &http.Client{Transport: tr}
	for range n {
		if err := get(client, url, false); err != nil {
			log.Fatal(err)
		}
	}
}
