package main

import (
	"log"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// Example_readme is the README's PostgreSQL recipe ("Who closed my
// database connection?"). It compiles here; TestRun runs the same against
// a real server.
func Example_readme() {
	dsn := "postgres://app@127.0.0.1:5432/app"
	counters := hooks.NewCounters()
	d := dialer.New(trackedconn.WithName("postgres"), trackedconn.WithHook(counters))
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		log.Fatal(err)
	}
	cfg.DialFunc = d.DialContext // the one line
	// alive drops a conn the server has ended before database/sql reuses it:
	// one Probe, no round trip (examples/postgres).
	db := stdlib.OpenDB(*cfg, stdlib.OptionResetSession(alive))
	defer db.Close()
}
