package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReuse runs the example in-process: one conn for every request when
// bodies are drained, one per request when they are not.
func TestReuse(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"-n", "5"}, &stdout, &stderr)
	require.Equal(t, 0, code, "exit code; stderr:\n%s", stderr.String())
	assert.Equal(t,
		"bodies read to EOF and closed: 5 requests, dialer Stats: Opened 1\n"+
			"bodies closed unread:          5 requests, dialer Stats: Opened 5\n",
		stdout.String(), "output")
}

func TestBadFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run([]string{"-n", "0"}, &stdout, &stderr), "exit code for -n 0")
	assert.Equal(t, 2, run([]string{"-nope"}, &stdout, &stderr), "exit code for a bad flag")
}
