//go:build soak

package stress_test

import (
	"testing"
	"time"
)

// TestSoakStress repeats bigger stress runs, a new seed each, for
// SOAK_DURATION seconds (default 180). `make soak` runs it under the race
// detector.
func TestSoakStress(t *testing.T) {
	seed := envUint(t, "STRESS_SEED", uint64(time.Now().UnixNano()))
	end := time.Now().Add(time.Duration(envUint(t, "SOAK_DURATION", 180)) * time.Second)
	runs := uint64(0)
	for ; time.Now().Before(end); runs++ {
		t.Logf("STRESS_SEED=%d", seed+runs)
		runStress(t, stressConfig{clients: 16, conns: 100, idle: 32, payload: 256 << 10}, seed+runs)
	}
	t.Logf("%d runs", runs)
}
