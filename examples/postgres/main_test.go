package main

import (
	"bytes"
	"regexp"
	"testing"

	"go.uber.org/goleak"

	"github.com/connwatch/connwatch/integration/servers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	pg := servers.Postgres(t)
	var out bytes.Buffer
	if err := run(pg.DSN(), &out); err != nil {
		t.Fatalf("run() = %v, want nil; output:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	for _, re := range []string{
		`(?m)^50 queries: 1 conn dialed, 1 live$`,
		`(?m)^pg_terminate_backend$`,
		`(?m)^Probe: readable \(PeerClosed=true\)$`,
		`(?m)^CloseIf\(dead\) closed 1 conn$`,
		`(?m)^query: ok, 2 conns dialed, 1 live$`,
		`(?m)^closed by cause: map\[peer:1\]$`,
	} {
		if !regexp.MustCompile(re).Match(out.Bytes()) {
			t.Errorf("output does not match %s", re)
		}
	}
}
