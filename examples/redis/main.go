// Redis shows connwatch under a go-redis pool. One line plugs it in
// (Options.Dialer); the dialer's Probe and CloseIf then reach the conns the
// pool holds, and a hooks.Counters tells who closed them.
//
//	go run . -addr 127.0.0.1:6379
//
// It runs 100 commands (one conn), has the server end that conn (CLIENT
// KILL, as an operator or Redis's idle `timeout` would), probes the pool,
// reaps the dead conn with CloseIf, and runs a command on a fresh conn.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "redis-server `host:port`")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redis:", err)
		os.Exit(1)
	}
}

// dead says whether a probed conn can never serve a command again.
func dead(p trackedconn.Probed) bool {
	switch p.Liveness {
	case trackedconn.LivenessPeerClosed, trackedconn.LivenessReset, trackedconn.LivenessStalled:
		return true
	}
	return false
}

func run(addr string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	counters := hooks.NewCounters()
	d := dialer.New(trackedconn.WithName("redis"), trackedconn.WithHook(counters))
	rdb := redis.NewClient(&redis.Options{
		Addr:   addr,
		Dialer: d.DialContext, // connwatch plugs in here
	})
	defer rdb.Close()

	for range 100 {
		if err := rdb.Incr(ctx, "connwatch:example").Err(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "100 commands: %d conn dialed, %d live\n", d.Stats().Opened, d.Stats().Active)

	// The server ends the pooled conn.
	id, err := rdb.ClientID(ctx).Result()
	if err != nil {
		return err
	}
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	if err := admin.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "CLIENT KILL ID %d\n", id)

	// Probe reads each socket's state without reading from it.
	var probed []trackedconn.Probed
	for probed = d.Probe(); len(probed) == 1 && !dead(probed[0]); probed = d.Probe() {
		if ctx.Err() != nil {
			return errors.New("the killed conn never looked dead")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range probed {
		fmt.Fprintf(w, "Probe: %s (PeerClosed=%v)\n", p.Liveness, p.State.PeerClosed)
	}
	// CloseIf closes the dead conns inside the pool; the pool finds them
	// closed at its next check and dials anew.
	fmt.Fprintf(w, "CloseIf(dead) closed %d conn\n", d.CloseIf(dead))

	if err := rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "PING: ok, %d conns dialed, %d live\n", d.Stats().Opened, d.Stats().Active)
	fmt.Fprintf(w, "closed by cause: %v\n", counters.Snapshot().Total.ClosedBy)
	return nil
}
