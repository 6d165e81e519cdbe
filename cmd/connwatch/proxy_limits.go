package main

import "log/slog"

// fdsPerPair is how many descriptors a live pair holds: the two sockets
// and, while both directions splice, two pipes of two descriptors each.
const fdsPerPair = 6

// fdReserve is the descriptors kept for everything but the pairs: the
// listeners, the poller, stdio, the debug server's conns.
const fdReserve = 64

// fdFit is the descriptor limit and how many pairs it allows; ok is false
// where there is no limit to read.
type fdFit struct {
	limit uint64
	pairs int
	ok    bool
}

// fitFDs reads the descriptor limit and how many pairs it allows.
func fitFDs() fdFit {
	limit, ok := fdLimit()
	if !ok {
		return fdFit{}
	}
	return fdFit{limit: limit, pairs: int((limit - min(limit, fdReserve)) / fdsPerPair), ok: true}
}

// maxConns returns -max-conns n, lowered to what fits in the descriptors
// when it was not given (explicit false) and does not fit. A given n is
// kept: logLimits warns about it.
func (f fdFit) maxConns(n int, explicit bool) int {
	if f.ok && !explicit && n > f.pairs {
		return max(f.pairs, 1)
	}
	return n
}

// logLimits logs -max-conns and the timeouts, with the descriptor limit and
// how many pairs it allows, and warns when -max-conns does not fit.
func logLimits(log *slog.Logger, cfg proxyConfig, f fdFit) {
	attrs := []any{"max_conns", cfg.maxConns, "dial_timeout", cfg.dialTimeout,
		"idle_timeout", cfg.idleTimeout, "stall_timeout", cfg.stallTimeout}
	if f.ok {
		attrs = append(attrs, "fd_limit", f.limit, "fds_per_pair", fdsPerPair, "pairs_fit", f.pairs)
	}
	log.Info("proxy limits", attrs...)
	if f.ok && cfg.maxConns > f.pairs {
		log.Warn("proxy -max-conns exceeds what the descriptor limit allows; raise the limit (ulimit -n) or lower -max-conns",
			"max_conns", cfg.maxConns, "fd_limit", f.limit, "pairs_fit", f.pairs)
	}
}
