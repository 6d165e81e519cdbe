package main

// The README's connz section, compiled and run.

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// A handler reaches the tracked conn of its request, and streams until
// Probe says the client went away.
func Example_connContext() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	d := dialer.New()
	gone := make(chan string, 1)
	mux := http.NewServeMux()
	mux.Handle("/debug/conns", connz.Handler(ln, d)) // the live conns page
	srv := &http.Server{Handler: mux, ConnContext: listener.ConnContext}
	srv.ReadHeaderTimeout = 10 * time.Second

	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		conn, _ := trackedconn.FromContext(r.Context()) // set by listener.ConnContext
		w.Header().Set("Content-Type", "text/event-stream")
		for n := 1; ; n++ {
			switch conn.Probe() { // never reads, never blocks
			case trackedconn.LivenessPeerClosed, trackedconn.LivenessReset, trackedconn.LivenessStalled:
				gone <- conn.Probe().String()
				return
			}
			fmt.Fprintf(w, "data: tick %d\n\n", n)
			http.NewResponseController(w).Flush()
			select {
			case <-time.After(time.Second):
			case <-r.Context().Done(): // net/http saw the client leave, or shuts down
				gone <- conn.Probe().String()
				return
			}
		}
	})
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	resp, err := http.Get("http://" + ln.Addr().String() + "/events")
	if err != nil {
		log.Fatal(err)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	fmt.Print(line)
	resp.Body.Close() // the client leaves: its conn closes
	fmt.Println("the handler stopped:", <-gone)
	// Output:
	// data: tick 1
	// the handler stopped: peer-closed
}
