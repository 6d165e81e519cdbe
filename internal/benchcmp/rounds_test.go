package benchcmp_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/benchcmp"
)

// Each round starts with a different contender, and the ratios are to the
// baseline's time in the same round.
func TestRounds(t *testing.T) {
	rs := benchcmp.NewRounds(3)
	var order []int
	sleeps := []time.Duration{2 * time.Millisecond, 2 * time.Millisecond, 8 * time.Millisecond}
	for k := range 5 {
		rs.Run(k, func(i int) {
			order = append(order, i)
			time.Sleep(sleeps[i])
		})
	}
	require.Len(t, order, 15)
	for k := range 5 {
		assert.Equal(t, k%3, order[3*k], "round %d starts with contender k mod n", k)
		assert.ElementsMatch(t, []int{0, 1, 2}, order[3*k:3*k+3], "round %d runs each contender once", k)
	}
	// Sleeps overshoot by scheduler latency; the bounds are wide.
	assert.InDelta(t, 1, rs.Wall(1), 0.5, "equal contenders")
	assert.Greater(t, rs.Wall(2), 2.0, "a contender 4 times slower")
	assert.GreaterOrEqual(t, rs.Total(2).Wall, 5*sleeps[2], "Total adds up the rounds")
	_, ok := rs.CPU(1)
	_ = ok // sleeping burns no CPU: whether a ratio is known depends on the clock's grain
	assert.Zero(t, benchcmp.NewRounds(2).Wall(1), "no round yet")
}
