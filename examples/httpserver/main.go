// Httpserver serves HTTP on a tracked listener and publishes, with expvar,
// how its conns ended: counts by cause (local, peer, reset, timeout, ...).
//
//	go run ./examples/httpserver                 # serves on 127.0.0.1:8080
//	curl -s localhost:8080/metrics               # the conn counters, as JSON
//	curl -s localhost:8080/debug/vars            # every expvar, the counters under "conns"
//	open http://localhost:8080/debug/conns       # the live conns (connz); ?format=text for curl
//	curl -sN localhost:8080/events               # server-sent events until the client leaves
//	go run ./examples/httpserver -selftest       # one self-check, then exit: see below
//
// With -selftest (or CONNWATCH_SELFTEST=1 in the environment) it does not
// wait for clients: it serves on 127.0.0.1:0, makes conns to itself that
// end in each way (a client that asks to close, one that closes an idle
// keep-alive conn, one that stalls in the request headers, one that
// resets), waits until the server has closed them, fetches its own
// /metrics once, prints that JSON on stdout, shuts down and exits 0 (1 if a
// step failed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// counters counts the server's conn events. A hooks.Counters is an
// expvar.Var: published, it shows on /debug/vars with the other expvars.
var counters = hooks.NewCounters()

func init() { expvar.Publish("conns", counters) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the server with args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("httpserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to serve on")
	selftest := fs.Bool("selftest", os.Getenv("CONNWATCH_SELFTEST") != "",
		"serve on 127.0.0.1:0, make conns to itself that end each way, fetch /metrics once, print it and exit (also CONNWATCH_SELFTEST=1)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	headerTimeout := 10 * time.Second
	if *selftest {
		*addr = "127.0.0.1:0"
		headerTimeout = 100 * time.Millisecond // so that the stalled client times out soon
	}

	ln, err := listener.Listen("tcp", *addr, trackedconn.WithName("http"), trackedconn.WithHook(counters))
	if err != nil {
		fmt.Fprintln(stderr, "httpserver:", err)
		return 1
	}
	srv := &http.Server{
		Handler:           newMux(ln),
		ReadHeaderTimeout: headerTimeout,
		ConnContext:       listener.ConnContext, // handlers find their conn with trackedconn.FromContext
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	code := 0
	if *selftest {
		if err := selfTest(ln, stdout, stderr); err != nil {
			fmt.Fprintln(stderr, "httpserver: selftest:", err)
			code = 1
		}
	} else {
		fmt.Fprintf(stderr, "httpserver: serving on http://%s (/metrics, /debug/vars, /debug/conns, /events)\n", ln.Addr())
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		<-ctx.Done()
		stop()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx) // closes ln and the idle conns, waits for the others
	<-served
	return code
}

// newMux serves a greeting on /, the conn counters on /metrics, every
// expvar on /debug/vars, the live conns of ln on /debug/conns and a stream
// of events on /events.
func newMux(ln *listener.Listener) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintln(w, expvar.Get("conns").String())
	})
	mux.Handle("GET /debug/vars", expvar.Handler())
	mux.Handle("GET /debug/conns", connz.Handler(ln))
	mux.HandleFunc("GET /events", events)
	return mux
}

// tick is how often events sends an event.
var tick = time.Second

// events streams a server-sent event every tick until the client goes
// away. Probe tells, without reading: a client that closed (peer-closed),
// reset, or stopped answering (stalled: a vanished client whose unacked
// events the kernel keeps retransmitting, which the request's context does
// not see). It logs how the stream ended.
func events(w http.ResponseWriter, r *http.Request) {
	conn, ok := trackedconn.FromContext(r.Context()) // set by listener.ConnContext
	if !ok {
		http.Error(w, "not a tracked conn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	t := time.NewTicker(tick)
	defer t.Stop()
	for n := 1; ; n++ {
		switch lv := conn.Probe(); lv {
		case trackedconn.LivenessPeerClosed, trackedconn.LivenessReset, trackedconn.LivenessStalled:
			log.Printf("events: conn %d: client gone (%s) after %d events", conn.ID(), lv, n-1)
			return
		}
		if _, err := fmt.Fprintf(w, "id: %d\ndata: tick %d\n\n", n, n); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-t.C:
		case <-r.Context().Done(): // net/http saw the client leave, or shuts down
			log.Printf("events: conn %d: %v (%s) after %d events", conn.ID(), context.Cause(r.Context()), conn.Probe(), n)
			return
		}
	}
}

// selfTest makes conns to the server on ln that end in each way, waits
// until the server has closed them, and prints GET /metrics on stdout.
func selfTest(ln *listener.Listener, stdout, stderr io.Writer) error {
	base := "http://" + ln.Addr().String()
	deadline := time.Now().Add(5 * time.Second)

	// Keep-alive: three requests on one conn. Then the client closes the
	// idle conn: the server reads EOF (Cause peer).
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for range 3 {
		if err := get(client, base+"/", false); err != nil {
			return err
		}
	}
	tr.CloseIdleConnections()
	fmt.Fprintln(stderr, "selftest: 3 keep-alive requests, then the client closed its idle conn")

	// "Connection: close": the server closes after the response. Its
	// Cause is local or peer: net/http flushes the response while a
	// background read of the conn is pending, which may see the client's
	// EOF first (peer). It stops that read with a read deadline in the
	// past, which the conn takes as an interruption, not a timeout.
	if err := get(client, base+"/", true); err != nil {
		return err
	}
	tr.CloseIdleConnections()
	fmt.Fprintln(stderr, "selftest: 1 request with Connection: close")

	// A client that stalls in the request headers: ReadHeaderTimeout (Cause timeout).
	stalled, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer stalled.Close()
	stalled.SetDeadline(deadline)
	if _, err := io.WriteString(stalled, "GET / HTTP/1.1\r\n"); err != nil {
		return err
	}
	io.Copy(io.Discard, stalled) // until the server gives up and closes
	fmt.Fprintln(stderr, "selftest: 1 client stalled in its request headers")

	// A client that resets: SO_LINGER 0, then Close (Cause reset). It waits
	// until the server has accepted, so that the server's read sees the RST.
	opened := ln.Stats().Opened
	reset, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer reset.Close()
	if err := waitFor(deadline, func() bool { return ln.Stats().Opened > opened }); err != nil {
		return fmt.Errorf("the reset client's conn was not accepted: %w", err)
	}
	if l, ok := reset.(interface{ SetLinger(int) error }); ok {
		l.SetLinger(0)
	}
	reset.Close()
	fmt.Fprintln(stderr, "selftest: 1 client reset its conn")

	if err := waitFor(deadline, func() bool { return ln.Stats().Active == 0 }); err != nil {
		return fmt.Errorf("%d conns still live: %w", ln.Stats().Active, err)
	}

	// The counters, as a monitoring system would fetch them. This request's
	// conn is live while it is served: active 1.
	scraper := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := scraper.Get(base + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		return fmt.Errorf("/metrics: %w", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// get GETs url, reads the body to EOF and closes it; with closeConn the
// request asks the server to close the conn after the response.
func get(client *http.Client, url string, closeConn bool) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Close = closeConn
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// waitFor polls cond until it is true or the deadline passes.
func waitFor(deadline time.Time, cond func() bool) error {
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
