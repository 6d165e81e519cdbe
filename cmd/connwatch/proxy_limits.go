package main

// fdsPerPair is how many descriptors a live pair holds: the two sockets
// and, while both directions splice, two pipes of two descriptors each.
const fdsPerPair = 6

// fdReserve is the descriptors kept for everything but the pairs: the
// listeners, the poller, stdio, the debug server's conns.
const fdReserve = 64

// fitLimits logs -max-conns and the timeouts, with the descriptor limit and
// how many pairs it allows. When -max-conns was not given (explicit false)
// and the default does not fit in the descriptors, it lowers -max-conns to
// what fits; when it was given and does not fit, it warns.
func (p *proxy) fitLimits(explicit bool) {
	limit, ok := fdLimit()
	fit := 0
	if ok {
		fit = int((limit - min(limit, fdReserve)) / fdsPerPair)
		if !explicit && p.cfg.maxConns > fit {
			p.cfg.maxConns = max(fit, 1)
		}
	}
	attrs := []any{"max_conns", p.cfg.maxConns, "dial_timeout", p.cfg.dialTimeout,
		"idle_timeout", p.cfg.idleTimeout, "stall_timeout", p.cfg.stallTimeout}
	if ok {
		attrs = append(attrs, "fd_limit", limit, "fds_per_pair", fdsPerPair, "pairs_fit", fit)
	}
	p.log.Info("proxy limits", attrs...)
	if ok && p.cfg.maxConns > fit {
		p.log.Warn("proxy -max-conns exceeds what the descriptor limit allows; raise the limit (ulimit -n) or lower -max-conns",
			"max_conns", p.cfg.maxConns, "fd_limit", limit, "pairs_fit", fit)
	}
}
