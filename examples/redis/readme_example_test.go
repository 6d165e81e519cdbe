package main

import (
	"log"

	"github.com/redis/go-redis/v9"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// Example_readme is the README's go-redis recipe ("Who closed my database
// connection?"). It compiles here; TestRun runs the same against a real
// redis-server.
func Example_readme() {
	addr := "127.0.0.1:6379"
	counters := hooks.NewCounters()
	d := dialer.New(trackedconn.WithName("redis"), trackedconn.WithHook(counters))
	rdb := redis.NewClient(&redis.Options{Addr: addr, Dialer: d.DialContext}) // the one line
	defer rdb.Close()

	for _, p := range d.Probe() { // every conn in the pool, oldest first
		log.Printf("conn %d: %s, idle since %s", p.State.ID, p.Liveness, p.State.LastReadAt)
	}
	d.CloseIf(func(p trackedconn.Probed) bool { return p.State.PeerClosed || p.Liveness == trackedconn.LivenessReset })
	log.Print(counters.Snapshot().Total.ClosedBy) // map[local:3 peer:1]
}
