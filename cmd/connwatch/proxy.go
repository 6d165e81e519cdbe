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
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

const proxySynopsis = "connwatch proxy -to HOST:PORT [-listen ADDR] [-debug ADDR] [-dial-timeout D] [-drain-timeout D] [-log-format text|json]"

const proxyAbout = `Forward TCP connections from -listen to -to, on a tracked listener and a
tracked dialer, and log each connection pair with log/slog on stderr:
"pair open", "pair half-close" (one direction ended with EOF; the proxy
shuts the other conn's write side), and one "pair close" line with
closed_first (client, upstream or proxy), the cause on each side
(client_cause, upstream_cause), the bytes each way and the duration.

Each pair is dialed when its client connects, within -dial-timeout. On
SIGINT or SIGTERM the proxy stops accepting and waits up to -drain-timeout
for the pairs to end, then closes the rest; a second signal quits at once.

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

// runProxy runs the proxy command with args until ctx ends, then drains.
// ready, if not nil, is called with the bound addresses once the proxy
// accepts conns.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(proxyAddrs)) int {
	fs := flag.NewFlagSet("connwatch proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8000", "`address` to accept clients on")
	to := fs.String("to", "", "upstream `host:port` to forward to (required)")
	debug := fs.String("debug", "", "`address` of the debug HTTP server (off if empty; \":PORT\" binds 127.0.0.1)")
	dialTimeout := fs.Duration("dial-timeout", 5*time.Second, "bound on each upstream dial")
	drainTimeout := fs.Duration("drain-timeout", 10*time.Second, "how long to wait for pairs to end after SIGINT/SIGTERM before closing them")
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
	logger, err := newLogger(stderr, *logFormat)
	if err != nil {
		return bad("-log-format: " + err.Error())
	}

	p := newProxy(*to, *dialTimeout, logger)
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

// Who ended a pair first.
const (
	whoNone int32 = iota
	whoClient
	whoUpstream
	whoProxy
)

var whoNames = [...]string{"none", "client", "upstream", "proxy"}

// pair is a client conn and the upstream conn the proxy dialed for it.
type pair struct {
	id       uint64
	start    time.Time
	client   *trackedconn.Conn
	upstream *trackedconn.Conn // nil while dialing; set under proxy.mu
	first    atomic.Int32      // who ended first: whoClient, whoUpstream or whoProxy
}

// setFirst records who ended the pair first, unless that is known already.
func (pr *pair) setFirst(who int32) { pr.first.CompareAndSwap(whoNone, who) }

// proxy forwards the conns of a tracked listener to an upstream dialed with
// a tracked dialer.
type proxy struct {
	to          string
	dialTimeout time.Duration
	log         *slog.Logger
	counters    *hooks.Counters // every conn, named "client" or "upstream"
	dialer      *dialer.Dialer
	ln          *listener.Listener // set by listen

	nextID atomic.Uint64
	mu     sync.Mutex
	pairs  map[uint64]*pair // live pairs by ID
	hard   context.Context  // canceled when the drain gives up: aborts dials
	wg     sync.WaitGroup   // pair goroutines
}

func newProxy(to string, dialTimeout time.Duration, log *slog.Logger) *proxy {
	counters := hooks.NewCounters()
	return &proxy{
		to:          to,
		dialTimeout: dialTimeout,
		log:         log,
		counters:    counters,
		dialer:      dialer.New(trackedconn.WithName("upstream"), trackedconn.WithHook(counters)),
		pairs:       map[uint64]*pair{},
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
// waits up to drainTimeout for the pairs to end (listener.Shutdown),
// closes those that did not, and returns once every pair goroutine has.
func (p *proxy) serve(ctx context.Context, ln *listener.Listener, drainTimeout time.Duration) {
	hard, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	p.hard = hard
	accepting := make(chan struct{})
	go p.acceptLoop(ln, accepting)

	<-ctx.Done()
	p.log.Info("proxy draining", "live_pairs", p.livePairs(), "drain_timeout", drainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	err := ln.Shutdown(dctx)
	cancel()
	if err != nil {
		// Shutdown closed the client conns; the upstream conns of pairs
		// that were half-closed may still be blocked in a read.
		n := p.abortPairs()
		abort()
		p.log.Warn("proxy drain timed out; closed the remaining pairs", "pairs", n)
	}
	<-accepting
	p.wg.Wait()
	t := p.counters.Snapshot().Total
	p.log.Info("proxy stopped", "pairs", p.nextID.Load(), "conns_opened", t.Opened, "conns_closed", t.Closed,
		"closed_by", closedBy(t.ClosedBy))
}

// acceptLoop accepts conns until the listener is closed, and starts a pair
// for each. It closes done when it returns.
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
		p.wg.Add(1)
		go p.handle(c.(*trackedconn.Conn))
	}
}

// handle dials the upstream for client conn c and forwards both ways until
// both directions end, then closes both conns and logs the pair.
func (p *proxy) handle(c *trackedconn.Conn) {
	defer p.wg.Done()
	pr := &pair{id: p.nextID.Add(1), start: time.Now(), client: c}
	p.mu.Lock()
	p.pairs[pr.id] = pr
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pairs, pr.id)
		p.mu.Unlock()
	}()
	log := p.log.With("pair", pr.id)

	ctx, cancel := context.WithTimeout(p.hard, p.dialTimeout)
	uc, err := p.dialer.DialContext(ctx, "tcp", p.to)
	cancel()
	if err != nil {
		pr.setFirst(whoProxy)
		c.Close()
		log.Warn("pair dial failed", "client", c.RemoteAddr().String(), "upstream", p.to, "err", err.Error())
		p.logClose(log, pr, 0, 0)
		return
	}
	up := uc.(*trackedconn.Conn)
	p.mu.Lock()
	pr.upstream = up
	p.mu.Unlock()
	log.Info("pair open", "client", c.RemoteAddr().String(), "upstream", up.RemoteAddr().String(),
		"client_conn", c.ID(), "upstream_conn", up.ID())

	toClient := make(chan int64, 1)
	go p.forwardUpstream(pr, log, toClient)
	toUpstream, _ := p.forward(pr, log, up, c, whoClient)
	toClientN := <-toClient
	c.Close()
	up.Close()
	p.logClose(log, pr, toUpstream, toClientN)
}

// forwardUpstream copies upstream to client and sends the byte count.
func (p *proxy) forwardUpstream(pr *pair, log *slog.Logger, n chan<- int64) {
	written, _ := p.forward(pr, log, pr.client, pr.upstream, whoUpstream)
	n <- written
}

// forward copies src to dst, from is src's side. When src ends with EOF it
// shuts dst's write side, so the half-close goes through; on an error it
// closes both conns, which ends the other direction too.
//
// io.Copy hands the copy to src's WriteTo, which hands it to dst's
// ReadFrom: TCP to TCP keeps splice, and both tracked conns count.
func (p *proxy) forward(pr *pair, log *slog.Logger, dst, src *trackedconn.Conn, from int32) (int64, error) {
	n, err := io.Copy(dst, src)
	if err == nil {
		pr.setFirst(from)
		to := whoClient + whoUpstream - from
		log.Info("pair half-close", "from", whoNames[from], "to", whoNames[to], "bytes", n)
		if err := dst.CloseWrite(); err != nil {
			// dst is gone already: nothing more can flow either way.
			pr.client.Close()
			pr.upstream.Close()
		}
		return n, nil
	}
	pr.setFirst(blame(err, src, dst, from))
	pr.client.Close()
	pr.upstream.Close()
	return n, err
}

// blame tells which side ended a copy that failed with err.
func blame(err error, src, dst *trackedconn.Conn, from int32) int32 {
	other := whoClient + whoUpstream - from
	switch s, d := src.State(), dst.State(); {
	case errors.Is(err, net.ErrClosed):
		return whoProxy // our own Close: a drain, or the other direction's error
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
	upstream, upCause, upFlags := p.to, trackedconn.CauseNone, ""
	if pr.upstream != nil {
		us := pr.upstream.State()
		upstream, upCause, upFlags = us.RemoteAddr.String(), us.Cause, strings.Join(stateFlags(us), ",")
	}
	log.Info("pair close",
		"client", cs.RemoteAddr.String(),
		"upstream", upstream,
		"closed_first", whoNames[pr.first.Load()],
		"client_cause", cs.Cause.String(),
		"upstream_cause", upCause.String(),
		"client_to_upstream", toUpstream,
		"upstream_to_client", toClient,
		"duration", time.Since(pr.start),
		"client_flags", strings.Join(stateFlags(cs), ","),
		"upstream_flags", upFlags,
	)
}

// livePairs returns the number of live pairs.
func (p *proxy) livePairs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// abortPairs closes both conns of every live pair, and returns how many
// pairs it closed.
func (p *proxy) abortPairs() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pairs {
		pr.setFirst(whoProxy)
		pr.client.Close()
		if pr.upstream != nil {
			pr.upstream.Close()
		}
	}
	return len(p.pairs)
}

// closedBy formats counts by cause as "local=1,peer=2", in Cause order.
func closedBy(m map[string]uint64) string {
	var b strings.Builder
	for c := trackedconn.CauseLocal; c <= trackedconn.CauseLeak; c++ {
		if n := m[c.String()]; n > 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=%d", c, n)
		}
	}
	return b.String()
}
