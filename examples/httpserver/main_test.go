package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connwatch/connwatch/hooks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSelftest runs the -selftest path in-process, as `make test` would run
// `go run ./examples/httpserver -selftest`.
func TestSelftest(t *testing.T) {
	before := counters.Snapshot().Total // counters is per process: -count=N reruns add up
	var stdout, stderr bytes.Buffer
	code := run([]string{"-selftest"}, &stdout, &stderr)
	require.Equal(t, 0, code, "exit code; stderr:\n%s", stderr.String())

	var got hooks.CountersSnapshot
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &got), "stdout is the /metrics JSON:\n%s", stdout.String())
	total := got.Total
	delta := func(cause string) uint64 { return total.ClosedBy[cause] - before.ClosedBy[cause] }
	assert.Equal(t, uint64(5), total.Opened-before.Opened, "opened: keep-alive, close, stalled, reset, /metrics")
	assert.Equal(t, uint64(1), total.Active, "active: the /metrics request's own conn")
	assert.Equal(t, uint64(4), total.Closed-before.Closed, "closed")
	assert.Equal(t, uint64(1), delta("reset"), "closed by reset")
	// The idle keep-alive conn is peer, the stalled one timeout; the
	// Connection: close one is local or peer (see selfTest): net/http's
	// read interrupted with a past deadline is not a timeout.
	assert.GreaterOrEqual(t, delta("peer"), uint64(1), "closed by peer")
	assert.Equal(t, uint64(1), delta("timeout"), "closed by timeout: only the stalled client")
	assert.Equal(t, uint64(3), delta("peer")+delta("timeout")+delta("local"), "closed by peer, timeout or local")
	assert.Equal(t, total, got.ByName["http"], "every conn is named http")
	assert.Contains(t, stderr.String(), "selftest: 1 client reset its conn", "progress on stderr")
}

func TestBadFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run([]string{"-nope"}, &stdout, &stderr), "exit code")
}
