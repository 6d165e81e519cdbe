package listener_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// Serving HTTP on a tracked listener: the listener sees the conns that
// http.Server accepts, so Stats shows keep-alive at work.
func Example() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("web"))
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	for range 3 {
		resp, err := client.Get("http://" + ln.Addr().String())
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	st := ln.Stats()
	fmt.Println("conns opened:", st.Opened, "live:", st.Active)

	srv.Shutdown(context.Background()) // closes ln and the idle conn
	<-served
	tr.CloseIdleConnections()
	fmt.Println("live after Shutdown:", ln.Stats().Active)
	// Output:
	// hello
	// hello
	// hello
	// conns opened: 1 live: 1
	// live after Shutdown: 0
}

// Draining a raw TCP server: Shutdown stops accepting, waits for the
// handlers to close their conns, and force-closes the rest when the
// context ends.
func ExampleListener_Shutdown() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	accepted := make(chan struct{})
	handlers := make(chan struct{})
	go func() {
		defer close(handlers)
		c, err := ln.Accept()
		close(accepted)
		if err != nil {
			return
		}
		io.Copy(io.Discard, c) // a handler that never closes its conn
	}()

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	<-accepted

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = ln.Shutdown(ctx)
	fmt.Println("Shutdown:", err)
	<-handlers
	fmt.Println("live:", ln.Stats().Active)
	fmt.Println("closed:", ln.Stats().Closed)
	// Output:
	// Shutdown: context deadline exceeded
	// live: 0
	// closed: 1
}
