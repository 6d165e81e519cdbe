// Package integration tests connwatch under servers and clients it did not
// write: redis-server with go-redis, PostgreSQL with pgx and database/sql,
// a WebSocket server, HTTP/2 with Go's client and curl, and the connwatch
// proxy in front of psql and curl.
//
// The tests start each server themselves on a free loopback port, in a
// temp dir, and stop it at cleanup. A server whose Debian package is not
// installed skips the test with one line naming the package; with CI=true
// it fails the test instead, so a missing install step in CI cannot hide.
package integration
