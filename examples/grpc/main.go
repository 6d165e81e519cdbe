// Command grpc shows connwatch under gRPC: a grpc.Server serves on a
// listener.Listener, a grpc.ClientConn dials through a dialer.Dialer, and a
// hooks.Registry on both prints every conn's lifecycle, and why it ended.
//
// This is the supported way to get a "conn closed" callback from gRPC's
// transport: gRPC does not expose its transport's net.Conn, but it accepts
// and dials through whatever it is given. No go:linkname, no unexported
// fields.
//
//	srv := grpc.NewServer()
//	go srv.Serve(ln) // ln from listener.Listen: accepted conns are SideServer
//
//	cc, err := grpc.NewClient("passthrough:///"+addr,
//		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
//			return d.DialContext(ctx, "tcp", addr) // d from dialer.New: dialed conns are SideClient
//		}),
//		grpc.WithTransportCredentials(insecure.NewCredentials()))
//
// It runs on loopback, uses the health service that ships with gRPC (no
// protoc), walks through four endings and exits 0:
//
//  1. the client closes its ClientConn: the client's conn ends with Cause
//     local, the server's with Cause peer (it read the client's EOF);
//  2. the server stops with GracefulStop: it sends GOAWAY, and the client,
//     with no RPC in flight, closes its conn on it (Cause local); the
//     server's conn then reads the client's EOF (Cause peer);
//  3. the server stops with Stop: the server closes its conn (Cause local),
//     the client reads EOF (Cause peer) or an RST (Cause reset);
//  4. the server vanishes: its listener's Shutdown force-closes the conns
//     under the grpc.Server's feet (Cause local), the client reads EOF or an
//     RST, and the client's next RPC fails with a refused dial, counted in
//     the dialer's Failures.
//
// In 1 and 2 the server's conn may also end with Cause reset: when a socket
// is closed with bytes it has not read, the kernel sends RST, not FIN.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "grpc example:", err)
		os.Exit(1)
	}
}

// stepTimeout bounds every wait of the example.
const stepTimeout = 10 * time.Second

// server is a grpc.Server with the health service, serving on a tracked
// loopback listener.
type server struct {
	*grpc.Server
	ln     *listener.Listener
	served chan error // Serve's error, once it returned
}

// startServer listens on a loopback port with opts and serves the health
// service there.
func startServer(opts ...trackedconn.Option) (*server, error) {
	ln, err := listener.Listen("tcp", "127.0.0.1:0", opts...)
	if err != nil {
		return nil, err
	}
	return serveOn(ln), nil
}

// serveOn serves the health service on ln.
func serveOn(ln *listener.Listener) *server {
	s := &server{Server: grpc.NewServer(), ln: ln, served: make(chan error, 1)}
	healthpb.RegisterHealthServer(s.Server, health.NewServer())
	go func() { s.served <- s.Serve(ln) }()
	return s
}

// wait waits until Serve has returned.
func (s *server) wait() error {
	select {
	case err := <-s.served:
		if errors.Is(err, grpc.ErrServerStopped) {
			return nil
		}
		return err
	case <-time.After(stepTimeout):
		return errors.New("grpc.Server.Serve did not return")
	}
}

// newClient returns a ClientConn to addr whose conns d dials. The
// passthrough resolver hands addr to the dialer as it is.
func newClient(addr string, d *dialer.Dialer) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr,
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
}

// check calls the health service once.
func check(cc *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health status %v, want SERVING", resp.GetStatus())
	}
	return nil
}

// closes collects the EventClose States of conns.
type closes chan trackedconn.State

// wait returns the next n closed conns' States, by side.
func (c closes) wait(n int) (map[trackedconn.Side]trackedconn.State, error) {
	got := make(map[trackedconn.Side]trackedconn.State, n)
	timeout := time.After(stepTimeout)
	for range n {
		select {
		case s := <-c:
			got[s.Side] = s
		case <-timeout:
			return got, fmt.Errorf("%d of %d conns closed", len(got), n)
		}
	}
	return got, nil
}

// ending is one way for a gRPC conn to end.
type ending struct {
	title string
	end   func(srv *server, cc *grpc.ClientConn) error // ends the conn
	after func(cc *grpc.ClientConn) error              // nil, or runs once both ends closed
}

// run runs the four endings, printing every conn event to w.
func run(w io.Writer) error {
	var mu sync.Mutex // serializes the lines of concurrent hooks
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format, args...)
	}

	// One Registry for both ends: the callbacks can change while conns live.
	reg := hooks.New()
	for _, e := range []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventPeerClosed, trackedconn.EventReset} {
		reg.On(e, func(s trackedconn.State) { printf("  %-6s conn %d: %s\n", s.Side, s.ID, e) })
	}
	closed := make(closes, 16)
	reg.OnClose(func(s trackedconn.State) {
		printf("  %-6s conn %d: close, cause %s (read %d B, wrote %d B, open %s)\n",
			s.Side, s.ID, s.Cause, s.BytesRead, s.BytesWritten, s.Age().Round(time.Millisecond))
		closed <- s // buffered: a hook must not block
	})

	d := dialer.New(trackedconn.WithName("health-client"), trackedconn.WithHook(reg))
	serverOpts := []trackedconn.Option{trackedconn.WithName("health-server"), trackedconn.WithHook(reg)}

	endings := []ending{
		{"the client closes its ClientConn", func(_ *server, cc *grpc.ClientConn) error {
			return cc.Close()
		}, nil},
		{"the server stops with GracefulStop", func(srv *server, _ *grpc.ClientConn) error {
			srv.GracefulStop()
			return nil
		}, nil},
		{"the server stops with Stop", func(srv *server, _ *grpc.ClientConn) error {
			srv.Stop()
			return nil
		}, nil},
		{"the server vanishes (listener Shutdown force-closes its conns)", func(srv *server, _ *grpc.ClientConn) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // no grace: force-close at once
			if err := srv.ln.Shutdown(ctx); !errors.Is(err, context.Canceled) {
				return fmt.Errorf("listener shutdown: %v, want context.Canceled", err)
			}
			return nil
		}, func(cc *grpc.ClientConn) error {
			err := check(cc)
			if status.Code(err) != codes.Unavailable {
				return fmt.Errorf("health check without a server: %v, want Unavailable", err)
			}
			printf("  client: next health check: %s\n", status.Code(err))
			return nil
		}},
	}
	for i, e := range endings {
		printf("%d. %s\n", i+1, e.title)
		if err := oneEnding(d, serverOpts, closed, e); err != nil {
			return fmt.Errorf("%s: %w", e.title, err)
		}
	}
	f := d.Failures()
	printf("client dialer: %d conns dialed, %d dials refused\n", d.Stats().Opened, f.Refused)
	return nil
}

// oneEnding starts a server, makes one health check through a new
// ClientConn, ends the conn with end, waits for both ends' EventClose, runs
// after (if not nil) and cleans up.
func oneEnding(d *dialer.Dialer, serverOpts []trackedconn.Option, closed closes, e ending) error {
	srv, err := startServer(serverOpts...)
	if err != nil {
		return err
	}
	defer func() { srv.Stop(); _ = srv.wait() }()
	cc, err := newClient(srv.ln.Addr().String(), d)
	if err != nil {
		return err
	}
	defer cc.Close()
	if err := check(cc); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if err := e.end(srv, cc); err != nil {
		return err
	}
	if _, err := closed.wait(2); err != nil {
		return err
	}
	if e.after != nil {
		return e.after(cc)
	}
	return nil
}
