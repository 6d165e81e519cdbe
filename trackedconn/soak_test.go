//go:build soak

package trackedconn_test

import (
	"testing"
	"time"
)

// The soak tests run the fault tests for minutes instead of seconds; `make
// soak` runs them under the race detector. SOAK_DURATION (seconds, default
// 180) sets the time of each; FAULT_SEED the first seed, as in the default
// run. A failure names the seed that reproduces it with TestFaultSchedules
// or TestFaultConcurrentOps.

// soakDuration returns how long each soak test runs.
func soakDuration(t *testing.T) time.Duration {
	return time.Duration(envInt(t, "SOAK_DURATION", 180)) * time.Second
}

// TestSoakFaultSchedules runs random schedules of 100 steps, 2000 at a time,
// until the soak time is up.
func TestSoakFaultSchedules(t *testing.T) {
	const (
		round = 2000
		steps = 100
	)
	seed := envInt(t, "FAULT_SEED", uint64(time.Now().UnixNano()))
	end := time.Now().Add(soakDuration(t))
	n := uint64(0)
	for ; time.Now().Before(end); n += round {
		faultProperty(t, seed+n, round, steps)
	}
	t.Logf("FAULT_SEED=%d: %d schedules of %d steps", seed, n, steps)
}

// TestSoakFaultConcurrentOps runs conns with random operations from several
// goroutines until the soak time is up.
func TestSoakFaultConcurrentOps(t *testing.T) {
	const round = 500
	seed := envInt(t, "FAULT_SEED", uint64(time.Now().UnixNano()))
	end := time.Now().Add(soakDuration(t))
	n := uint64(0)
	for ; time.Now().Before(end); n += round {
		faultConcurrent(t, seed+n, round)
	}
	t.Logf("FAULT_SEED=%d: %d conns", seed, n)
}
