package main

import (
	"context"
	"fmt"
	"log"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// The README's gRPC snippet, run: a health check over a tracked listener
// and dialer. The OnClose lines go to the log (stderr).
func Example_readme() {
	reg := hooks.New()
	reg.OnClose(func(s trackedconn.State) { // must be quick: it runs on gRPC's goroutine
		log.Printf("%s conn %d closed: cause %s, %d B read, %d B written",
			s.Side, s.ID, s.Cause, s.BytesRead, s.BytesWritten)
	})

	// Server: serve on a tracked listener (accepted conns are SideServer).
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithHook(reg))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	defer srv.Stop()

	// Client: dial through a tracked dialer (dialed conns are SideClient).
	d := dialer.New(trackedconn.WithHook(reg))
	cc, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()

	resp, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.GetStatus(), "- conns dialed:", d.Stats().Opened, "accepted:", ln.Stats().Opened)
	// Output: SERVING - conns dialed: 1 accepted: 1
}
