// Postgres shows connwatch under a database/sql pool with the pgx driver.
// One line plugs it in (pgx.ConnConfig.DialFunc); the dialer's Probe and
// CloseIf then reach the conns the pool holds, and a hooks.Counters tells
// who closed them.
//
//	go run . -dsn 'host=127.0.0.1 port=5432 user=postgres dbname=postgres'
//
// It runs 50 queries (one conn), has the server end that session
// (pg_terminate_backend, from a conn of its own), probes the pool, reaps
// the dead conn with CloseIf, and runs a query on a fresh conn. The pool
// learns of the reaped conn from alive, its check before each reuse: one
// Probe, no round trip to the server.
package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

func main() {
	dsn := flag.String("dsn", "host=127.0.0.1 port=5432 user=postgres dbname=postgres", "libpq connection string")
	flag.Parse()
	if err := run(*dsn, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "postgres:", err)
		os.Exit(1)
	}
}

// dead says whether a probed conn can never serve a query again. A
// PostgreSQL server that ends a session first sends an error (FATAL 57P01
// for pg_terminate_backend) and then its FIN: Probe sees the message
// waiting (readable), and State.PeerClosed tells the FIN behind it.
func dead(p trackedconn.Probed) bool {
	switch p.Liveness {
	case trackedconn.LivenessClosed, trackedconn.LivenessPeerClosed,
		trackedconn.LivenessReset, trackedconn.LivenessStalled:
		return true
	}
	return p.State.PeerClosed
}

// alive is database/sql's check before it reuses a conn (pgx stdlib's
// OptionResetSession): a dead conn is dropped (driver.ErrBadConn) and the
// query goes to another one.
func alive(_ context.Context, c *pgx.Conn) error {
	tc, ok := c.PgConn().Conn().(*trackedconn.Conn)
	if ok && dead(trackedconn.Probed{Liveness: tc.Probe(), State: tc.State()}) {
		return driver.ErrBadConn
	}
	return nil
}

func run(dsn string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	counters := hooks.NewCounters()
	d := dialer.New(trackedconn.WithName("postgres"), trackedconn.WithHook(counters))
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.DialFunc = d.DialContext // connwatch plugs in here
	db := stdlib.OpenDB(*cfg, stdlib.OptionResetSession(alive))
	defer db.Close()

	var pid int
	for range 50 {
		if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "50 queries: %d conn dialed, %d live\n", d.Stats().Opened, d.Stats().Active)

	// The server ends the pooled session; the admin conn is not tracked.
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		return err
	}
	fmt.Fprintln(w, "pg_terminate_backend")

	// Probe reads each socket's state without reading from it.
	var probed []trackedconn.Probed
	for probed = d.Probe(); len(probed) == 1 && !dead(probed[0]); probed = d.Probe() {
		if ctx.Err() != nil {
			return errors.New("the terminated conn never looked dead")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range probed {
		fmt.Fprintf(w, "Probe: %s (PeerClosed=%v)\n", p.Liveness, p.State.PeerClosed)
	}
	// CloseIf closes the dead conns inside the pool; alive drops them at
	// their next use, and database/sql dials anew.
	fmt.Fprintf(w, "CloseIf(dead) closed %d conn\n", d.CloseIf(dead))

	if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return err
	}
	fmt.Fprintf(w, "query: ok, %d conns dialed, %d live\n", d.Stats().Opened, d.Stats().Active)
	fmt.Fprintf(w, "closed by cause: %v\n", counters.Snapshot().Total.ClosedBy)
	return nil
}
