// Package conntrackcompat holds a test that runs github.com/mwitkow/go-conntrack
// and contrib/prometheus side by side, through the same loopback scenarios,
// and diffs the metrics they expose. It is a module of its own so that
// neither connwatch nor contrib/prometheus depends on go-conntrack; it has
// no API.
package conntrackcompat
