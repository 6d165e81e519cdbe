// Package conntrackbench compares connwatch with
// github.com/mwitkow/go-conntrack, the connection tracker many programs use
// today, and with the plain net package, in one run: 64-byte ping-pong,
// accept+dial+close churn, file to conn (sendfile), conn to conn (splice)
// and heap per live conn. It holds benchmarks only and lives in its own
// module, so the core module never depends on go-conntrack or Prometheus.
//
// Every benchmark has the sub-benchmarks impl=raw (net.Listen and a
// net.Dialer), impl=conntrack (conntrack.NewListener and
// conntrack.NewDialContextFunc with their defaults: Prometheus counters on,
// tracing off) and impl=tracked (listener.Wrap and dialer.New, no hooks).
// impl=interleaved runs all three side by side in alternating rounds and
// reports the median per-round ratios to raw, of wall time (conntrack/raw,
// tracked/raw) and of process CPU time (cpu-conntrack/raw, cpu-tracked/raw).
//
// Run it with `make bench` from the repository root, or here with
//
//	go test -run '^$' -bench . -benchmem
package conntrackbench
