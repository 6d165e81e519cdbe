package main

import (
	"bytes"
	"regexp"
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no goroutine outlives the tests. gRPC needs no
// goleak.IgnoreTopFunction here: once every ClientConn is closed and every
// grpc.Server has returned from Stop (and its Serve has returned), gRPC's
// goroutines end; the few that end asynchronously (the ClientConn's callback
// serializers, the transports' readers) are waited for by goleak's retries.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run() = %v, want nil; output:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	for _, re := range []string{
		`(?m)^1\. the client closes its ClientConn$`,
		`(?m)^2\. the server stops with GracefulStop$`,
		`(?m)^3\. the server stops with Stop$`,
		`(?m)^4\. the server vanishes`,
		`(?m)^  client: next health check: Unavailable$`,
		`(?m)^client dialer: 4 conns dialed, [1-9]\d* dials refused$`,
	} {
		if !regexp.MustCompile(re).Match(out.Bytes()) {
			t.Errorf("run() output does not match %s", re)
		}
	}
}
