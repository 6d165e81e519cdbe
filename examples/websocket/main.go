// Websocket shows connwatch under a WebSocket server (coder/websocket) that
// hijacks its conns from net/http, and under its client. One line plugs it
// in on each side: the server serves on a tracked listener, the client's
// http.Transport dials through a tracked dialer. The conns stay tracked
// after the upgrade: bytes of every frame are counted, and the close
// handshake ends both conns with their causes.
//
//	go run .
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "websocket:", err)
		os.Exit(1)
	}
}

// echo echoes every message until the close handshake.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, b, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, b); err != nil {
			return
		}
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	counters := hooks.NewCounters()

	// Server: a tracked listener under a plain http.Server.
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("server"), trackedconn.WithHook(counters)) // connwatch plugs in here
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(echo)}
	go srv.Serve(ln)
	defer srv.Close()

	// Client: a tracked dialer under the http.Transport that dials the upgrade.
	d := dialer.New(trackedconn.WithName("client"), trackedconn.WithHook(counters))
	tr := &http.Transport{DialContext: d.DialContext} // connwatch plugs in here
	defer tr.CloseIdleConnections()
	c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return err
	}
	defer c.CloseNow()

	// The Transport counts its request write when the call returns, which
	// may be after the server answered: wait until both sides agree, so
	// the counts below start right after the upgrade.
	for d.Stats().BytesWritten == 0 || ln.Stats().BytesRead != d.Stats().BytesWritten {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	upgrade := d.Stats().BytesWritten
	for _, size := range []int{10, 100, 1000} {
		msg := strings.Repeat("x", size)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return err
		}
		if _, _, err := c.Read(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "upgrade request: %d bytes\n", upgrade)
	fmt.Fprintf(w, "after the upgrade, 1110 bytes of messages: client wrote %d, server read %d\n",
		d.Stats().BytesWritten-upgrade, ln.Stats().BytesRead-upgrade)
	for _, p := range ln.Probe() {
		fmt.Fprintf(w, "server conn after the upgrade: %s\n", p.Liveness)
	}

	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		return err
	}
	for ln.Stats().Active+d.Stats().Active > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	// Whichever side closes first says local; the other finds the FIN.
	fmt.Fprintf(w, "after the close handshake: closed by cause %v\n", counters.Snapshot().Total.ClosedBy)
	return nil
}
