// Package benchcmp compares contenders in Go benchmarks: raw conns against
// tracked ones, or against another library's. Each contender runs as a
// sub-benchmark of its own (impl=<name>, the key scripts/bench.sh and
// benchstat project on), and all of them run again side by side in
// interleaved rounds (impl=interleaved), which report the median per-round
// ratios of wall and process CPU time to the first contender, the
// baseline. On a shared machine the ratios of interleaved rounds resolve a
// few percent where separate runs cannot, and CPU time varies less than
// wall time with what the other tenants run.
package benchcmp
