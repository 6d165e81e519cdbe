package benchcmp

import (
	"testing"
	"time"
)

// A Contender is one way to run a workload: Impl is what the benchmark's
// scenario sets the workload up with (a wrap function, a listener and a
// dialer, ...), Name its impl key. The first contender of a comparison is
// the baseline.
type Contender[T any] struct {
	Name string
	Impl T
}

// Compare runs sc once per contender as impl=<name>, each reporting ns/op,
// allocations and, with bytes > 0, MB/s and the process's CPU time per
// byte moved (cpu-ns/B), else per op (cpu-ns/op). With round > 0 it then
// runs impl=interleaved (Interleave). sc sets a workload up and returns
// one operation of it and the function that tears it down.
func Compare[T any](b *testing.B, cs []Contender[T], bytes int64, round int, sc func(*testing.B, T) (op, stop func())) {
	for _, c := range cs {
		b.Run("impl="+c.Name, func(b *testing.B) {
			op, stop := sc(b, c.Impl)
			defer stop()
			b.SetBytes(bytes)
			b.ReportAllocs()
			cpu := Process()
			for b.Loop() {
				op()
			}
			b.StopTimer()
			ReportCPU(b, Process()-cpu, bytes)
		})
	}
	if round > 0 {
		b.Run("impl=interleaved", func(b *testing.B) { Interleave(b, cs, round, sc) })
	}
}

// Interleave sets sc up once per contender, side by side, and runs the
// operations in rounds of round ops per contender (Rounds), then reports
// the median per-round ratios to the baseline (ReportRounds). An op is one
// op of each contender.
func Interleave[T any](b *testing.B, cs []Contender[T], round int, sc func(*testing.B, T) (op, stop func())) {
	ops := make([]func(), len(cs))
	for i, c := range cs {
		op, stop := sc(b, c.Impl)
		defer stop()
		ops[i] = op
	}
	rs := NewRounds(len(cs))
	for i, k := 0, 0; i < b.N; i, k = i+round, k+1 {
		n := min(round, b.N-i)
		rs.Run(k, func(j int) {
			for range n {
				ops[j]()
			}
		})
	}
	b.StopTimer()
	ReportRounds(b, cs, rs)
}

// CompareBulk runs bulk copies, each over new connections that sc sets up
// (unmeasured) and whose copy it returns, once per contender as
// impl=<name>, reporting MB/s and cpu-ns/B over the copies alone, and then
// as impl=interleaved: one copy of each contender in turn, never two at
// once, the first rotating, reporting the median per-turn ratios to the
// baseline. A new connection per copy matters: on two cores, where the
// sender and the receiver run stays the same for a connection's life and
// moves its CPU per byte by up to +-40% from one connection to the next;
// over many connections the median is the contender's own cost.
func CompareBulk[T any](b *testing.B, cs []Contender[T], bytes int64, sc func(*testing.B, T) (copy func())) {
	for _, c := range cs {
		b.Run("impl="+c.Name, func(b *testing.B) {
			b.SetBytes(bytes)
			b.ReportAllocs()
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				run := sc(b, c.Impl)
				b.StartTimer()
				cpu += Time(run).CPU
			}
			b.StopTimer()
			ReportCPU(b, cpu, bytes)
		})
	}
	b.Run("impl=interleaved", func(b *testing.B) {
		rs := NewRounds(len(cs))
		runs := make([]func(), len(cs))
		for k := range b.N {
			b.StopTimer()
			for i, c := range cs {
				runs[i] = sc(b, c.Impl)
			}
			b.StartTimer()
			rs.Run(k, func(i int) { runs[i]() })
		}
		b.StopTimer()
		ReportRounds(b, cs, rs)
	})
}

// ReportRounds reports, for every contender but the baseline, the median
// over rounds of its wall time ratio to the baseline's (<name>/<baseline>,
// such as tracked/raw) and of its CPU time ratio (cpu-<name>/<baseline>),
// where known.
func ReportRounds[T any](b *testing.B, cs []Contender[T], rs *Rounds) {
	base := cs[0].Name
	for i := 1; i < len(cs); i++ {
		b.ReportMetric(rs.Wall(i), cs[i].Name+"/"+base)
		if r, ok := rs.CPU(i); ok {
			b.ReportMetric(r, "cpu-"+cs[i].Name+"/"+base)
		}
	}
}

// ReportCPU reports cpu, the process's CPU time (user and system, every
// thread: both ends of a connection, the runtime, the garbage collector)
// over b.N ops, per byte moved if bytes > 0 (cpu-ns/B), else per op
// (cpu-ns/op). Throughput on a shared VM varies by +-30% between runs; the
// CPU a copy burns per byte varies far less.
func ReportCPU(b *testing.B, cpu time.Duration, bytes int64) {
	switch {
	case cpu <= 0:
	case bytes > 0:
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(int64(b.N)*bytes), "cpu-ns/B")
	default:
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
