package main

import (
	"bytes"
	"regexp"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run() = %v, want nil; output:\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	for _, re := range []string{
		`(?m)^upgrade request: \d+ bytes$`,
		// Client frames of 10 and 100 bytes: 2 header bytes and a 4-byte
		// mask; of 1000 bytes: 2 more for the 16-bit length.
		`(?m)^after the upgrade, 1110 bytes of messages: client wrote 1130, server read 1130$`,
		`(?m)^server conn after the upgrade: open$`,
		`(?m)^after the close handshake: closed by cause map\[local:1 peer:1\]$`,
	} {
		if !regexp.MustCompile(re).Match(out.Bytes()) {
			t.Errorf("output does not match %s", re)
		}
	}
}
