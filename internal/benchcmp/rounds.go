package benchcmp

import (
	"slices"
	"time"
)

// Cost is what a run took: wall-clock time and the process's CPU time.
type Cost struct{ Wall, CPU time.Duration }

// Time runs run once and returns its cost.
func Time(run func()) Cost {
	c0, t0 := Process(), time.Now()
	run()
	return Cost{time.Since(t0), Process() - c0}
}

// Rounds compares n contenders run one after another, round after round,
// with the first of them, the baseline: each round gives every contender's
// time relative to the baseline's in that round, so that all of them share
// the machine's noise. The zero Rounds has no contenders; use NewRounds.
type Rounds struct {
	wall, cpu [][]float64 // per contender, one ratio per round
	total     []Cost      // per contender, over all rounds
	cur       []Cost      // per contender, this round
}

// NewRounds returns a Rounds for n contenders, the baseline being
// contender 0.
func NewRounds(n int) *Rounds {
	return &Rounds{
		wall:  make([][]float64, n),
		cpu:   make([][]float64, n),
		total: make([]Cost, n),
		cur:   make([]Cost, n),
	}
}

// Run runs run(i) once for every contender i, contender k (mod n) first
// and the others after it in turn, and records each one's ratios to the
// baseline in this round; a CPU ratio only where both CPU times are known.
// k is the round's number: rotating which contender goes first spreads
// the cost of going first over all of them.
func (r *Rounds) Run(k int, run func(i int)) {
	n := len(r.cur)
	for j := range n {
		i := (k + j) % n
		r.cur[i] = Time(func() { run(i) })
		r.total[i].Wall += r.cur[i].Wall
		r.total[i].CPU += r.cur[i].CPU
	}
	for i := 1; i < n; i++ {
		r.wall[i] = append(r.wall[i], float64(r.cur[i].Wall)/float64(r.cur[0].Wall))
		if r.cur[0].CPU > 0 && r.cur[i].CPU > 0 {
			r.cpu[i] = append(r.cpu[i], float64(r.cur[i].CPU)/float64(r.cur[0].CPU))
		}
	}
}

// Wall returns the median over rounds of contender i's wall time relative
// to the baseline's, or 0 before any round.
func (r *Rounds) Wall(i int) float64 { return median(r.wall[i]) }

// CPU returns the median over rounds of contender i's CPU time relative to
// the baseline's; ok is false if no round knew both CPU times.
func (r *Rounds) CPU(i int) (ratio float64, ok bool) {
	return median(r.cpu[i]), len(r.cpu[i]) > 0
}

// Total returns what contender i took over all rounds.
func (r *Rounds) Total(i int) Cost { return r.total[i] }

// median returns the median of v (the upper one of an even count), or 0
// if v is empty. It sorts v.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
