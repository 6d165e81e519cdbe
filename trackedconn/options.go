package trackedconn

import (
	"net"
	"time"

	"github.com/connwatch/connwatch/internal/wrapopt"
)

// Hook receives the lifecycle events of tracked conns. ConnEvent runs
// synchronously on the goroutine that caused the transition (the one calling
// Read, Write, Close, Probe, ..., or the runtime's cleanup goroutine for
// EventLeak), after the state was updated. Hooks are for light side effects
// such as metrics and logs: they must not block and must not call Close on the
// conn from EventClose. EventClose is the last event of a conn: when a
// transition raced with Close and its hooks are still running on another
// goroutine, EventClose runs on that goroutine after them, and Close may
// return before it ran. A panicking hook is recovered and logged with
// log/slog; it does not break the conn, the Close or the other hooks.
type Hook interface {
	ConnEvent(e Event, s State)
}

// HookFunc adapts a function to the Hook interface.
type HookFunc func(e Event, s State)

// ConnEvent calls f(e, s).
func (f HookFunc) ConnEvent(e Event, s State) { f(e, s) }

// An Option configures tracked conns. The same options are accepted by Wrap,
// listener.Listen, listener.Wrap, dialer.New and dialer.Wrap. Options are
// applied in order: WithHook adds to the hooks given before it, the other
// options override earlier ones of their kind.
type Option interface {
	apply(*config)
}

// config is the immutable configuration shared by every conn wrapped with
// the same options.
type config struct {
	name  string
	side  Side
	hooks []Hook
	group *Group
	leak  bool
	// afterClose runs once EventClose's hooks have returned
	// (wrapopt.AfterClose); the last one given wins.
	afterClose func()
	// plainTCP: the TCP conns wrapped with this configuration are never
	// MPTCP (wrapopt.PlainTCP).
	plainTCP bool

	keepAlive   *net.KeepAliveConfig // WithKeepAlive
	userTimeout time.Duration        // WithUserTimeout; 0: leave the socket's
}

func (c *config) apply(dst *config) {
	if c.name != "" {
		dst.name = c.name
	}
	if c.side != SideUnknown {
		dst.side = c.side
	}
	if c.group != nil {
		dst.group = c.group
	}
	dst.leak = dst.leak || c.leak
	dst.plainTCP = dst.plainTCP || c.plainTCP
	if c.afterClose != nil {
		dst.afterClose = c.afterClose
	}
	if c.keepAlive != nil {
		dst.keepAlive = c.keepAlive
	}
	if c.userTimeout != 0 {
		dst.userTimeout = c.userTimeout
	}
	dst.hooks = append(dst.hooks[:len(dst.hooks):len(dst.hooks)], c.hooks...)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// The options only connwatch's own packages give (see wrapopt).
func init() {
	wrapopt.AfterClose = func(f func()) any {
		return Option(optionFunc(func(c *config) { c.afterClose = f }))
	}
	wrapopt.PlainTCP = func(src any) any {
		if !plainTCPSource(src) {
			return nil
		}
		return Option(optionFunc(func(c *config) { c.plainTCP = true }))
	}
}

// plainTCPSource reports whether every TCP conn src hands out is plain
// TCP, not MPTCP (see wrapopt.PlainTCP).
func plainTCPSource(src any) bool {
	switch v := src.(type) {
	case *net.Dialer:
		return !v.MultipathTCP()
	case *net.TCPListener:
		rc, err := v.SyscallConn()
		if err != nil {
			return false
		}
		k := sockUnknown
		if rc.Control(func(fd uintptr) { k = sockKindOf(fd) }) != nil {
			return false
		}
		return k == sockTCP
	}
	return false
}

// noOptions is the configuration of a bare Wrap(c).
var noOptions = &config{}

// newConfig merges opts. It allocates only when opts is not already a
// single merged Options value.
func newConfig(opts []Option) *config {
	switch len(opts) {
	case 0:
		return noOptions
	case 1:
		if c, ok := opts[0].(*config); ok {
			return c
		}
	}
	c := new(config)
	for _, o := range opts {
		if o == nil {
			panic("trackedconn: nil Option")
		}
		o.apply(c)
	}
	return c
}

// Options merges opts into one Option. Wrapping many conns with one merged
// Option shares a single configuration between them instead of building one
// per conn; listener and dialer do this.
func Options(opts ...Option) Option {
	c := new(config)
	for _, o := range opts {
		if o == nil {
			panic("trackedconn: nil Option")
		}
		o.apply(c)
	}
	return c
}

// WithName names the conns, for logs and metrics (State.Name). It overrides
// an earlier WithName.
func WithName(name string) Option {
	return optionFunc(func(c *config) { c.name = name })
}

// WithSide sets State.Side. listener and dialer set it for their conns;
// use it when wrapping conns that were accepted or dialed elsewhere.
func WithSide(s Side) Option {
	if s > SideClient {
		panic("trackedconn: WithSide: invalid Side " + s.String())
	}
	return optionFunc(func(c *config) { c.side = s })
}

// WithHook adds h to the hooks of the conns. It may be given several times;
// hooks run in the order they were given. WithHook(nil) and
// WithHook(HookFunc(nil)) panic.
func WithHook(h Hook) Option {
	if f, ok := h.(HookFunc); h == nil || ok && f == nil {
		panic("trackedconn: WithHook(nil)")
	}
	return optionFunc(func(c *config) { c.hooks = append(c.hooks[:len(c.hooks):len(c.hooks)], h) })
}

// WithGroup puts the conns in g from wrap until they close (or leak).
// It overrides an earlier WithGroup. WithGroup(nil) panics.
func WithGroup(g *Group) Option {
	if g == nil {
		panic("trackedconn: WithGroup(nil)")
	}
	return optionFunc(func(c *config) { c.group = g })
}

// WithLeakDetection turns on leak detection: a conn that becomes unreachable
// without Close is reclaimed by the runtime's cleanup: its inner conn is
// closed (so the descriptor and the peer are released), it leaves its Group,
// and EventLeak then EventClose fire with Cause CauseLeak. State.Origin
// records where the conn was wrapped. It costs a stack capture and three
// more allocations per conn (the stack and runtime.AddCleanup's two; four
// on Go 1.25, where runtime.AddCleanup costs three).
//
// The cleanup, and with it the hooks of EventLeak and EventClose, runs on
// the runtime's cleanup goroutine: a slow inner Close (a *tls.Conn sending
// close_notify to a stalled peer) delays the other cleanups of the program.
// A leaked conn is found only when the garbage collector runs, so reports
// come late (or never, in a program that does not allocate).
func WithLeakDetection() Option {
	return optionFunc(func(c *config) { c.leak = true })
}

// WithKeepAlive applies cfg to the conns' TCP socket when they are wrapped
// (accepted, dialed), also beneath a *tls.Conn or another conn with a
// NetConn method, as net.TCPConn.SetKeepAliveConfig does. With keepalive
// on, an idle conn whose peer vanished reads LivenessStalled once two
// probes in a row go unanswered: about Idle + Interval after the last
// exchange (Go's default is 15 s + 15 s; the kernel itself gives up after
// Idle + Count x Interval, with ETIMEDOUT). Conns without a TCP socket are
// left as they are. A failure to apply cfg is logged with log/slog at
// error level ("trackedconn: WithKeepAlive"); the conn is still wrapped.
// It overrides an earlier WithKeepAlive.
func WithKeepAlive(cfg net.KeepAliveConfig) Option {
	return optionFunc(func(c *config) { c.keepAlive = &cfg })
}

// WithUserTimeout sets TCP_USER_TIMEOUT to d on the conns' TCP socket when
// they are wrapped, where the platform has it (Linux), also beneath a
// *tls.Conn: the kernel then gives up on a conn whose sent data stays
// unacknowledged for d (and, with keepalive, whose probes go unanswered
// for d), and the next Read or Write fails with ETIMEDOUT (Cause
// CauseStalled). It is ignored on other platforms and for conns without a
// TCP socket; a failure to set it is logged like WithKeepAlive's. d must
// be positive (it is rounded down to milliseconds); WithUserTimeout panics
// otherwise. It overrides an earlier WithUserTimeout.
func WithUserTimeout(d time.Duration) Option {
	if d < time.Millisecond {
		panic("trackedconn: WithUserTimeout: d must be at least 1ms, got " + d.String())
	}
	return optionFunc(func(c *config) { c.userTimeout = d })
}
