package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/internal/errclass"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

const proxySynopsis = "connwatch proxy -to HOST:PORT [-listen ADDR] [-debug ADDR] [-dial-timeout D] [-drain-timeout D] [-max-conns N] [-idle-timeout D] [-stall-timeout D] [-log-format text|json]"

const proxyAbout = `Forward TCP connections from -listen to -to, on a tracked listener and a
tracked dialer, and log each connection pair with log/slog on stderr:
"pair open", "pair half-close" (one direction ended with EOF; the proxy
shuts the other conn's write side), and one "pair close" line with
closed_first (client, upstream or proxy), the cause on each side
(client_cause, upstream_cause), the bytes each way and the duration, and
cut (drain-timeout, idle-timeout or stall-timeout) when the proxy ended it.

A FIN is forwarded as a FIN, and only a FIN: when one side resets or fails
(or the upstream refuses the dial), and when the proxy cuts a pair, the
other side is reset too (SO_LINGER 0), so that no client mistakes a cut
stream for a complete one.

Each pair is dialed when its client connects, within -dial-timeout; a
client that resets meanwhile cancels its dial. At most -max-conns pairs
are live at once: a client beyond that is reset at once and counted
("rejected" in the stop line). Each pair holds about 6 descriptors (2
sockets, 2 splice pipes); the "proxy limits" line at start gives the
descriptor limit and how many pairs it allows. Without -max-conns the
bound is 10000 or, if fewer, the pairs that the limit allows; a -max-conns
beyond them is kept, with a warning. -idle-timeout cuts a pair
that moved no byte either way for that long. -stall-timeout cuts a pair
once one of its conns has read stalled (Probe: the peer stopped
acknowledging) at every look for that long; that conn's cause is then
stalled. Both are off by default; when on, the pairs are looked at every
quarter of the shorter timeout, at most every second.

On SIGINT or SIGTERM the proxy stops accepting and waits up to -drain-timeout
for the pairs to end, then cuts the rest; a second signal quits at once
(also when the signal was ignored at start, as for a background job).

-debug serves GET /debug/conns (JSON: the live conns, both sides, with
state and Probe's answer; ?format=text for a table) and /debug/counters.
A host-less -debug :PORT binds 127.0.0.1:PORT; name the host, such as
0.0.0.0:PORT, to expose it. -listen keeps net.Listen's meaning (":PORT" is
every interface).`

// proxyAddrs are the addresses a started proxy listens on.
type proxyAddrs struct {
	Listen string
	Debug  string // "" without -debug
}

// proxyConfig is the proxy's tuning from its flags.
type proxyConfig struct {
	to           string
	dialTimeout  time.Duration
	maxConns     int
	idleTimeout  time.Duration // 0: off
	stallTimeout time.Duration // 0: off
}

// runProxy runs the proxy command with args until ctx ends, then drains.
// ready, if not nil, is called with the bound addresses once the proxy
// accepts conns.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(proxyAddrs)) int {
	fs := flag.NewFlagSet("connwatch proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8000", "`address` to accept clients on")
	to := fs.String("to", "", "upstream `host:port` to forward to (required)")
	debug := fs.String("debug", "", "`address` of the debug HTTP server (off if empty; \":PORT\" binds 127.0.0.1)")
	dialTimeout := fs.Duration("dial-timeout", 5*time.Second, "bound on each upstream dial")
	drainTimeout := fs.Duration("drain-timeout", 10*time.Second, "how long to wait for pairs to end after SIGINT/SIGTERM before cutting them")
	maxConns := fs.Int("max-conns", 10000, "most live pairs; a client beyond them is reset at once and counted (the default is lowered to what the descriptor limit allows)")
	idleTimeout := fs.Duration("idle-timeout", 0, "cut a pair that moved no byte either way for this `duration` (0: never)")
	stallTimeout := fs.Duration("stall-timeout", 0, "cut a pair once one of its conns has been stalled for this `duration` (0: never)")
	logFormat := fs.String("log-format", "text", "log format: `text` or json")
	if code, ok := parseFlags(fs, proxySynopsis, proxyAbout, args, stdout, stderr); !ok {
		return code
	}

	bad := func(msg string) int { return usageError(stderr, fs.Name(), msg) }
	if *to == "" {
		return bad("-to is required")
	}
	if err := checkHostPort(*to, true); err != nil {
		return bad("-to: " + err.Error())
	}
	if err := checkHostPort(*listen, false); err != nil {
		return bad("-listen: " + err.Error())
	}
	debugAddr := ""
	if *debug != "" {
		a, err := debugListenAddr(*debug)
		if err != nil {
			return bad("-debug: " + err.Error())
		}
		debugAddr = a
	}
	if *dialTimeout <= 0 {
		return bad("-dial-timeout must be positive")
	}
	if *drainTimeout < 0 {
		return bad("-drain-timeout must not be negative")
	}
	if *maxConns <= 0 {
		return bad("-max-conns must be positive")
	}
	if *idleTimeout < 0 {
		return bad("-idle-timeout must not be negative")
	}
	if *stallTimeout < 0 {
		return bad("-stall-timeout must not be negative")
	}
	logger, err := newLogger(stderr, *logFormat)
	if err != nil {
		return bad("-log-format: " + err.Error())
	}

	explicitMax := false
	fs.Visit(func(f *flag.Flag) { explicitMax = explicitMax || f.Name == "max-conns" })
	fds := fitFDs()
	p := newProxy(proxyConfig{
		to:           *to,
		dialTimeout:  *dialTimeout,
		maxConns:     fds.maxConns(*maxConns, explicitMax),
		idleTimeout:  *idleTimeout,
		stallTimeout: *stallTimeout,
	}, logger)
	ln, err := p.listen(*listen)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
		return 1
	}
	addrs := proxyAddrs{Listen: ln.Addr().String()}
	if debugAddr != "" {
		dbg, err := startDebug(debugAddr, p)
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "%s: debug server: %v\n", fs.Name(), err)
			return 1
		}
		defer dbg.close()
		addrs.Debug = dbg.addr()
	}
	attrs := []any{"listen", addrs.Listen, "to", *to}
	if addrs.Debug != "" {
		attrs = append(attrs, "debug", addrs.Debug)
	}
	logger.Info("proxy listening", attrs...)
	logLimits(logger, p.cfg, fds)
	if ready != nil {
		ready(addrs)
	}
	p.serve(ctx, ln, *drainTimeout)
	return 0
}

// checkHostPort reports whether addr is HOST:PORT with a valid port, and a
// host if needHost.
func checkHostPort(addr string, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if needHost && host == "" {
		return fmt.Errorf("address %s: missing host", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("address %s: invalid port %q", addr, port)
	}
	return nil
}

// newLogger returns a slog logger writing text or JSON lines to w.
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("%q is neither text nor json", format)
}

// proxy forwards the conns of a tracked listener to an upstream dialed with
// a tracked dialer.
type proxy struct {
	cfg      proxyConfig
	log      *slog.Logger
	counters *hooks.Counters // every conn, named "client" or "upstream"
	dialer   *dialer.Dialer
	ln       *listener.Listener // set by listen

	// now and probe are time.Now and (*trackedconn.Conn).Probe; tests of
	// the reaper replace them.
	now   func() time.Time
	probe func(*trackedconn.Conn) trackedconn.Liveness

	nextID   atomic.Uint64
	reapMu   sync.Mutex    // one reap at a time
	rejected atomic.Uint64 // clients reset at once for -max-conns
	full     atomic.Bool   // the latest client was rejected
	mu       sync.Mutex
	pairs    map[uint64]*pair // live pairs by ID
	drained  chan struct{}    // closed once draining and no pair is live; under mu
	hard     context.Context  // canceled when the drain gives up: aborts dials
	wg       sync.WaitGroup   // pair goroutines
}

func newProxy(cfg proxyConfig, log *slog.Logger) *proxy {
	counters := hooks.NewCounters()
	return &proxy{
		cfg:      cfg,
		log:      log,
		counters: counters,
		dialer:   dialer.New(trackedconn.WithName("upstream"), trackedconn.WithHook(counters)),
		now:      time.Now,
		probe:    (*trackedconn.Conn).Probe,
		pairs:    map[uint64]*pair{},
		hard:     context.Background(),
	}
}

// listen returns the tracked listener the proxy accepts clients on.
func (p *proxy) listen(addr string) (*listener.Listener, error) {
	ln, err := listener.Listen("tcp", addr, trackedconn.WithName("client"), trackedconn.WithHook(p.counters))
	if err != nil {
		return nil, err
	}
	p.ln = ln
	return ln, nil
}

// serve accepts and forwards conns until ctx ends. It then stops accepting,
// waits up to drainTimeout for the pairs to end, cuts those that did not,
// and returns once every pair goroutine has.
func (p *proxy) serve(ctx context.Context, ln *listener.Listener, drainTimeout time.Duration) {
	hard, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	p.hard = hard
	accepting := make(chan struct{})
	go p.acceptLoop(ln, accepting)
	stopReaper := make(chan struct{})
	reaped := make(chan struct{})
	go p.reapLoop(stopReaper, reaped)

	<-ctx.Done()
	ln.Close()
	<-accepting // no pair joins from here on
	p.log.Info("proxy draining", "live_pairs", p.livePairs(), "drain_timeout", drainTimeout)
	p.waitDrained(drainTimeout, abort)
	p.wg.Wait()
	close(stopReaper)
	<-reaped
	total := p.counters.Snapshot().Total
	p.log.Info("proxy stopped", "pairs", p.nextID.Load(), "rejected", p.rejected.Load(),
		"conns_opened", total.Opened, "conns_closed", total.Closed, "closed_by", closedBy(total.ClosedBy))
}

// waitDrained waits up to timeout for the live pairs to end, then cuts
// those that did not, and calls abort to end the dials of new pairs.
func (p *proxy) waitDrained(timeout time.Duration, abort func()) {
	drained := p.drain()
	select {
	case <-drained:
		return
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
		n := p.cutPairs(endDrain)
		abort()
		p.log.Warn("proxy drain timed out; closed the remaining pairs", "pairs", n)
	}
}

// drain returns a channel closed once no pair is live. Call it after the
// accept loop has returned.
func (p *proxy) drain() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drained = make(chan struct{})
	if len(p.pairs) == 0 {
		close(p.drained)
	}
	return p.drained
}

// acceptLoop accepts conns until the listener is closed, and starts a pair
// for each, or resets the conn when -max-conns pairs are live. It closes
// done when it returns.
func (p *proxy) acceptLoop(ln *listener.Listener, done chan<- struct{}) {
	defer close(done)
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors, an aborted handshake, ...: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn("proxy accept failed", "err", err.Error(), "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		tc := c.(*trackedconn.Conn)
		pr := p.add(tc)
		if pr == nil {
			abortConn(tc)
			n := p.rejected.Add(1)
			if p.full.CompareAndSwap(false, true) {
				p.log.Warn("proxy at -max-conns; resetting new clients", "max_conns", p.cfg.maxConns, "rejected", n)
			}
			continue
		}
		if p.full.CompareAndSwap(true, false) {
			p.log.Info("proxy below -max-conns again", "rejected", p.rejected.Load())
		}
		p.wg.Add(1)
		go p.handle(pr)
	}
}

// add makes a pair for client conn c and adds it to the live pairs, or
// returns nil if -max-conns pairs are live.
func (p *proxy) add(c *trackedconn.Conn) *pair {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pairs) >= p.cfg.maxConns {
		return nil
	}
	pr := newPair(p.hard, p.nextID.Add(1), c)
	p.pairs[pr.id] = pr
	return pr
}

// remove takes pr out of the live pairs.
func (p *proxy) remove(pr *pair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pairs, pr.id)
	if len(p.pairs) == 0 && p.drained != nil {
		close(p.drained)
		p.drained = nil
	}
}

// handle dials the upstream for the pair's client conn and forwards both
// ways until both directions end, then closes both conns and logs the pair.
func (p *proxy) handle(pr *pair) {
	defer p.wg.Done()
	defer p.remove(pr)
	c := pr.client
	log := p.log.With("pair", pr.id)

	up, err := p.dial(pr)
	if err != nil {
		// The client may have gone first; else the upstream refused or
		// reset the conn, or the proxy gave up.
		if s := c.State(); s.Reset || s.PeerClosed {
			pr.setFirst(whoClient)
		}
		switch errclass.Classify(err) {
		case errclass.Refused, errclass.Reset:
			pr.setFirst(whoUpstream)
		}
		pr.setFirst(whoProxy)
		pr.abort() // a refused or failed dial reaches the client as a reset
		log.Warn("pair dial failed", "client", c.RemoteAddr().String(), "upstream", p.cfg.to, "err", err.Error())
		p.logClose(log, pr, 0, 0)
		return
	}
	log.Info("pair open", "client", c.RemoteAddr().String(), "upstream", up.RemoteAddr().String(),
		"client_conn", c.ID(), "upstream_conn", up.ID())

	toClient := make(chan int64, 1)
	go p.forwardUpstream(pr, log, toClient)
	toUpstream := p.forward(pr, log, up, c, whoClient)
	toClientN := <-toClient
	pr.end.CompareAndSwap(endLive, endDone)
	c.Close()
	up.Close()
	p.logClose(log, pr, toUpstream, toClientN)
}

// dial dials the upstream for pr within the dial timeout, and cancels the
// dial when the client resets meanwhile or the pair is cut.
func (p *proxy) dial(pr *pair) (*trackedconn.Conn, error) {
	defer pr.cancelDial(nil) // releases the dial's context from p.hard
	ctx, cancel := context.WithTimeout(pr.dialCtx, p.cfg.dialTimeout)
	defer cancel()
	stop := watchClient(pr.client, pr.cancelDial)
	uc, err := p.dialer.DialContext(ctx, "tcp", p.cfg.to)
	stop()
	if err != nil {
		if cause := context.Cause(pr.dialCtx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return nil, err
	}
	up := uc.(*trackedconn.Conn)
	if !pr.setUpstream(up) {
		up.Close()
		return nil, errPairCut
	}
	return up, nil
}

// forwardUpstream copies upstream to client and sends the byte count.
func (p *proxy) forwardUpstream(pr *pair, log *slog.Logger, n chan<- int64) {
	n <- p.forward(pr, log, pr.client, pr.upstreamConn(), whoUpstream)
}

// forward copies src to dst, from is src's side, and returns the bytes
// copied. When src ends with a FIN it shuts dst's write side, so the
// half-close goes through. When src was reset, or the copy failed on
// either conn, it resets both conns, which ends the other direction too.
//
// io.Copy hands the copy to src's WriteTo, which hands it to dst's
// ReadFrom: TCP to TCP keeps splice, and both tracked conns count.
func (p *proxy) forward(pr *pair, log *slog.Logger, dst, src *trackedconn.Conn, from int32) int64 {
	n, err := io.Copy(dst, src)
	to := whoClient + whoUpstream - from
	if err != nil {
		pr.setFirst(blame(err, src, dst, from))
		pr.abort()
		return n
	}
	aborted := pr.aborted.Load() // before wasReset looks at the socket
	reset := wasReset(src, pr.shut[from].Load())
	switch {
	case aborted:
		// The other direction failed and reset both conns: this EOF
		// may be the reset it took, or our Close.
		if reset {
			pr.resetEOF[from].Store(true)
		}
		return n
	case reset:
		// An EOF read after a write took the reset: the conn recorded
		// the EOF as the peer's, the log says reset (see pair.cause).
		pr.resetEOF[from].Store(true)
		pr.setFirst(from)
		pr.abort()
		return n
	}
	pr.setFirst(from)
	pr.shut[to].Store(true)
	if err := dst.CloseWrite(); err != nil {
		// dst is gone already: nothing more can flow either way.
		pr.abort()
		return n
	}
	pr.fin[from].Store(true)
	log.Info("pair half-close", "from", whoNames[from], "to", whoNames[to], "bytes", n)
	return n
}

// blame tells which side ended a copy that failed with err.
func blame(err error, src, dst *trackedconn.Conn, from int32) int32 {
	other := whoClient + whoUpstream - from
	switch s, d := src.State(), dst.State(); {
	case errors.Is(err, net.ErrClosed):
		return whoProxy // our own Close: a cut, or the other direction's error
	case s.Reset || s.PeerClosed || s.TimedOut:
		return from
	case d.Reset || d.TimedOut:
		return other
	}
	return from
}

// logClose writes the pair's one "pair close" line. Both conns are closed.
func (p *proxy) logClose(log *slog.Logger, pr *pair, toUpstream, toClient int64) {
	cs := pr.client.State()
	upstream, upCause, upFlags := p.cfg.to, trackedconn.CauseNone, ""
	if up := pr.upstreamConn(); up != nil {
		us := up.State()
		upstream, upCause, upFlags = us.RemoteAddr.String(), pr.cause(whoUpstream, us), strings.Join(hooks.Flags(us), ",")
	}
	attrs := []any{
		"client", cs.RemoteAddr.String(),
		"upstream", upstream,
		"closed_first", whoNames[pr.first.Load()],
		"client_cause", pr.cause(whoClient, cs).String(),
		"upstream_cause", upCause.String(),
		"client_to_upstream", toUpstream,
		"upstream_to_client", toClient,
		"duration", time.Since(pr.start),
		"client_flags", strings.Join(hooks.Flags(cs), ","),
		"upstream_flags", upFlags,
	}
	if e := pr.end.Load(); e >= endDrain {
		attrs = append(attrs, "cut", endNames[e])
	}
	log.Info("pair close", attrs...)
}

// livePairs returns the number of live pairs.
func (p *proxy) livePairs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// snapshot returns the live pairs.
func (p *proxy) snapshot() []*pair {
	p.mu.Lock()
	defer p.mu.Unlock()
	prs := make([]*pair, 0, len(p.pairs))
	for _, pr := range p.pairs {
		prs = append(prs, pr)
	}
	return prs
}

// cutPairs cuts every live pair that has not ended yet, as why (endDrain,
// ...), and returns how many it cut.
func (p *proxy) cutPairs(why int32) int {
	n := 0
	for _, pr := range p.snapshot() {
		if pr.cut(why) {
			n++
		}
	}
	return n
}

// closedBy formats counts by cause as "local=1,peer=2", in Cause order.
func closedBy(m map[string]uint64) string {
	var b strings.Builder
	for c := trackedconn.CauseLocal; c <= trackedconn.CauseStalled; c++ {
		if n := m[c.String()]; n > 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%d", c, n)
		}
	}
	return b.String()
}
