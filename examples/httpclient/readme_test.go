package main

// The README's quickstart snippets, compiled and run. Each Example's body
// is what the README shows.

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// Is my HTTP client reusing connections? Plug a tracked dialer into the
// Transport and read its Stats.
func Example_transport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))
	defer srv.Close()
	url := srv.URL

	d := dialer.New(trackedconn.WithName("api"))
	tr := &http.Transport{DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for range 3 {
		resp, err := client.Get(url)
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // read to EOF, or the conn is not reused
		resp.Body.Close()
	}
	fmt.Println("requests: 3, conns dialed:", d.Stats().Opened)
	for _, st := range d.Conns() {
		fmt.Println(st.Name, st.Side, st.RemoteAddr.String() == srv.Listener.Addr().String())
	}
	// Output:
	// requests: 3, conns dialed: 1
	// api client true
}

// Did I leak a conn? With leak detection, a conn dropped without Close is
// closed when the GC finds it, and EventLeak tells where it was opened.
func Example_leakDetection() {
	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	var logged bytes.Buffer // what the hook below logs
	log.SetOutput(&logged)
	defer log.SetOutput(os.Stderr)

	reg := hooks.New()
	reg.On(trackedconn.EventLeak, func(s trackedconn.State) {
		log.Printf("conn %d to %v was never closed; opened at:\n%s", s.ID, s.RemoteAddr, s.Origin)
	})
	leaks := make(chan trackedconn.State, 1)
	reg.On(trackedconn.EventLeak, func(s trackedconn.State) {
		select { // hooks must not block
		case leaks <- s:
		default:
		}
	})
	d := dialer.New(trackedconn.WithLeakDetection(), trackedconn.WithHook(reg))
	// A conn from d that becomes unreachable without Close is closed at a GC:
	// EventLeak, then EventClose with Cause leak; its peer sees EOF.

	forget(d, ln.Addr().String()) // dials, never closes
	server, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()

	s := collect(leaks) // after the log hook ran: hooks run in order
	fmt.Println("cause:", s.Cause, "opened by:", caller(s.Origin))
	fmt.Println("logged:", strings.Contains(logged.String(), "was never closed; opened at:"))
	io.ReadAll(server) // the leak detector closed the inner conn: the peer reads EOF
	fmt.Println("server side peer closed:", server.(*trackedconn.Conn).State().PeerClosed)
	// Output:
	// cause: leak opened by: forget
	// logged: true
	// server side peer closed: true
}

// forget dials addr and drops the conn without closing it.
//
//go:noinline
func forget(d *dialer.Dialer, addr string) {
	if _, err := d.Dial("tcp", addr); err != nil {
		log.Fatal(err)
	}
}

// collect runs the garbage collector until a leak is reported, for up to
// five seconds.
func collect(leaks <-chan trackedconn.State) trackedconn.State {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.GC()
		select {
		case s := <-leaks:
			return s
		case <-time.After(10 * time.Millisecond):
		}
	}
	log.Fatal("no leak reported")
	return trackedconn.State{}
}

// caller returns the name of the first function in o outside connwatch's
// packages, without its package path.
func caller(o trackedconn.Origin) string {
	frames := o.Frames()
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "github.com/connwatch/connwatch/dialer.") {
			return f.Function[strings.LastIndex(f.Function, ".")+1:]
		}
		if !more {
			return ""
		}
	}
}
