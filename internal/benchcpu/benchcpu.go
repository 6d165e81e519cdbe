// Package benchcpu reads the CPU time the process has used, for benchmarks
// that report CPU time beside wall time: on a shared machine it varies
// less than wall time with what the other tenants run. Rounds compares
// contenders (raw and tracked conns) run in turn on that machine.
package benchcpu
