package otel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

// ScopeName is the name of the Meter that New asks the MeterProvider for.
const ScopeName = "github.com/connwatch/connwatch/contrib/otel"

// Attribute keys.
const (
	KeyName      = attribute.Key("connwatch.name")       // State.Name, or the name given to TrackDialer
	KeySide      = attribute.Key("connwatch.side")       // State.Side: "server", "client", "unknown"
	KeyCause     = attribute.Key("connwatch.cause")      // State.Cause of a closed conn
	KeyDirection = attribute.Key("network.io.direction") // "receive" or "transmit"
	KeyErrorType = attribute.Key("error.type")           // the dialer.Failures field of a failed dial
)

// DefaultDurationBoundaries are the advised bucket boundaries of
// connwatch.conn.duration, in seconds: from a millisecond to a day.
var DefaultDurationBoundaries = []float64{0.001, 0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600}

// An Option configures Metrics.
type Option interface{ apply(*config) }

type config struct {
	boundaries []float64
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithDurationBoundaries sets the advised bucket boundaries, in seconds, of
// the connwatch.conn.duration histogram; DefaultDurationBoundaries if not
// given. It overrides an earlier WithDurationBoundaries. With the SDK,
// boundaries that are not increasing make New return its error.
func WithDurationBoundaries(bounds ...float64) Option {
	b := append([]float64(nil), bounds...)
	return optionFunc(func(c *config) { c.boundaries = b })
}

// Metrics records the lifecycle of tracked conns as OpenTelemetry
// instruments. It is a trackedconn.Hook: give it to listener.Listen,
// listener.Wrap, dialer.New or dialer.Wrap with trackedconn.WithHook.
// TrackDialer adds a dialer's attempts and failures. See the package
// documentation for the instruments.
//
// Create Metrics with New; a zero Metrics is not usable. Metrics is safe
// for concurrent use.
type Metrics struct {
	opened, closed, peerClosed, halfClosed, reset, leaked, io metric.Int64Counter
	active                                                    metric.Int64UpDownCounter
	duration                                                  metric.Float64Histogram
	attempted, failed                                         metric.Int64ObservableCounter

	sets sync.Map // setKey -> *connSets

	mu      sync.Mutex
	dialers map[*dialer.Dialer]string // tracked dialers and their names
	retired map[string]dialer.Failures
	opened0 map[string]uint64 // Stats().Opened of untracked dialers, by name
}

var _ trackedconn.Hook = (*Metrics)(nil)

// New returns Metrics that create their instruments with the Meter
// ScopeName of mp, or of otel.GetMeterProvider() if mp is nil. It returns
// the error of an instrument or callback that mp refused.
func New(mp metric.MeterProvider, opts ...Option) (*Metrics, error) {
	cfg := config{boundaries: slices.Clone(DefaultDurationBoundaries)}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	meter := mp.Meter(ScopeName)
	m := &Metrics{
		dialers: make(map[*dialer.Dialer]string),
		retired: make(map[string]dialer.Failures),
		opened0: make(map[string]uint64),
	}
	const conns = "{connection}"
	var errs []error
	counter := func(name, desc string, unit string) metric.Int64Counter {
		c, err := meter.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		return c
	}
	m.opened = counter("connwatch.conn.opened", "Connections opened (accepted or dialed).", conns)
	m.closed = counter("connwatch.conn.closed", "Connections closed, by why they ended.", conns)
	m.peerClosed = counter("connwatch.conn.peer_closed", "Connections whose peer closed its side (EOF).", conns)
	m.halfClosed = counter("connwatch.conn.half_closed", "Half-closes (CloseRead, CloseWrite) of connections, by direction.", conns)
	m.reset = counter("connwatch.conn.reset", "Connections that were reset or hit a broken pipe.", conns)
	m.leaked = counter("connwatch.conn.leaked", "Connections reclaimed by the leak detector.", conns)
	m.io = counter("connwatch.conn.io", "Bytes moved by closed connections, by direction, recorded when they close.", "By")
	var err error
	m.active, err = meter.Int64UpDownCounter("connwatch.conn.active",
		metric.WithDescription("Connections open now."), metric.WithUnit(conns))
	errs = append(errs, err)
	m.duration, err = meter.Float64Histogram("connwatch.conn.duration",
		metric.WithDescription("Lifetime of closed connections."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(cfg.boundaries...))
	errs = append(errs, err)
	m.attempted, err = meter.Int64ObservableCounter("connwatch.dial.attempted",
		metric.WithDescription("Dials of the tracked dialers."), metric.WithUnit(conns))
	errs = append(errs, err)
	m.failed, err = meter.Int64ObservableCounter("connwatch.dial.failed",
		metric.WithDescription("Failed dials of the tracked dialers, by error type."), metric.WithUnit(conns))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("contrib/otel: %w", err)
	}
	if _, err := meter.RegisterCallback(m.observeDialers, m.attempted, m.failed); err != nil {
		return nil, fmt.Errorf("contrib/otel: %w", err)
	}
	return m, nil
}

// connSets are the measurement options of one (name, side), built once.
type connSets struct {
	base       []metric.AddOption
	record     []metric.RecordOption
	byCause    [numCauses][]metric.AddOption // indexed by trackedconn.Cause
	recv, xmit []metric.AddOption            // base + network.io.direction
	name       attribute.KeyValue
	side       attribute.KeyValue
}

const numCauses = int(trackedconn.CauseStalled) + 1

type setKey struct {
	side trackedconn.Side
	name string
}

func (m *Metrics) setsOf(side trackedconn.Side, name string) *connSets {
	key := setKey{side, name}
	if s, ok := m.sets.Load(key); ok {
		return s.(*connSets)
	}
	s := &connSets{name: KeyName.String(name), side: KeySide.String(side.String())}
	base := metric.WithAttributeSet(attribute.NewSet(s.name, s.side))
	s.base = []metric.AddOption{base}
	s.record = []metric.RecordOption{base}
	for c := range s.byCause {
		s.byCause[c] = s.with(KeyCause.String(trackedconn.Cause(c).String()))
	}
	s.recv = s.with(KeyDirection.String("receive"))
	s.xmit = s.with(KeyDirection.String("transmit"))
	v, _ := m.sets.LoadOrStore(key, s)
	return v.(*connSets)
}

func (s *connSets) with(kv attribute.KeyValue) []metric.AddOption {
	return []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(s.name, s.side, kv))}
}

func (s *connSets) cause(c trackedconn.Cause) []metric.AddOption {
	if int(c) < numCauses {
		return s.byCause[c]
	}
	return s.with(KeyCause.String(c.String()))
}

// ConnEvent records e for the conn s: it implements trackedconn.Hook.
func (m *Metrics) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	ctx := context.Background()
	sets := m.setsOf(s.Side, s.Name)
	switch e {
	case trackedconn.EventOpen:
		m.opened.Add(ctx, 1, sets.base...)
		m.active.Add(ctx, 1, sets.base...)
	case trackedconn.EventPeerClosed:
		m.peerClosed.Add(ctx, 1, sets.base...)
	case trackedconn.EventReadShut:
		m.halfClosed.Add(ctx, 1, sets.recv...)
	case trackedconn.EventWriteShut:
		m.halfClosed.Add(ctx, 1, sets.xmit...)
	case trackedconn.EventReset:
		m.reset.Add(ctx, 1, sets.base...)
	case trackedconn.EventLeak:
		m.leaked.Add(ctx, 1, sets.base...)
	case trackedconn.EventClose:
		m.closed.Add(ctx, 1, sets.cause(s.Cause)...)
		m.active.Add(ctx, -1, sets.base...)
		if s.BytesRead > 0 {
			m.io.Add(ctx, s.BytesRead, sets.recv...)
		}
		if s.BytesWritten > 0 {
			m.io.Add(ctx, s.BytesWritten, sets.xmit...)
		}
		m.duration.Record(ctx, s.Age().Seconds(), sets.record...)
	}
}

// TrackDialer makes Metrics report d's dial attempts and failures with
// connwatch.name name, read from d.Stats and d.Failures at each collection.
// Give d trackedconn.WithName(name) and trackedconn.WithHook(m) so that its
// conns carry the same name.
//
// Several dialers may be tracked under one name: their counts add up.
// The returned function stops tracking d; its counts so far stay in the
// totals, so the counters never go down. Calling it more than once does
// nothing. Track a dialer once: tracking it again after untrack counts its
// earlier dials a second time. TrackDialer panics if d is nil or already
// tracked.
func (m *Metrics) TrackDialer(name string, d *dialer.Dialer) (untrack func()) {
	if d == nil {
		panic("contrib/otel: TrackDialer with a nil dialer")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dialers[d]; ok {
		panic("contrib/otel: TrackDialer: dialer already tracked")
	}
	m.dialers[d] = name
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.retired[name] = addFailures(m.retired[name], d.Failures())
			m.opened0[name] += d.Stats().Opened
			delete(m.dialers, d)
		})
	}
}

func addFailures(a, b dialer.Failures) dialer.Failures {
	return dialer.Failures{
		Canceled:    a.Canceled + b.Canceled,
		DNS:         a.DNS + b.DNS,
		Timeout:     a.Timeout + b.Timeout,
		Refused:     a.Refused + b.Refused,
		Unreachable: a.Unreachable + b.Unreachable,
		TLS:         a.TLS + b.TLS,
		Other:       a.Other + b.Other,
	}
}

// observeDialers is the callback of the dial instruments.
func (m *Metrics) observeDialers(_ context.Context, o metric.Observer) error {
	type counts struct {
		opened uint64
		f      dialer.Failures
	}
	m.mu.Lock()
	byName := make(map[string]counts, len(m.dialers)+len(m.retired))
	for name, f := range m.retired {
		byName[name] = counts{opened: m.opened0[name], f: f}
	}
	for d, name := range m.dialers {
		n := byName[name]
		f := d.Failures()
		n.opened += d.Stats().Opened
		n.f = addFailures(n.f, f)
		byName[name] = n
	}
	m.mu.Unlock()

	for name, n := range byName {
		nameKV := KeyName.String(name)
		o.ObserveInt64(m.attempted, int64(n.opened+n.f.Total()), metric.WithAttributes(nameKV))
		for _, kf := range [...]struct {
			typ string
			n   uint64
		}{
			{"canceled", n.f.Canceled}, {"dns", n.f.DNS}, {"timeout", n.f.Timeout},
			{"refused", n.f.Refused}, {"unreachable", n.f.Unreachable}, {"tls", n.f.TLS},
			{"other", n.f.Other},
		} {
			o.ObserveInt64(m.failed, int64(kf.n), metric.WithAttributes(nameKV, KeyErrorType.String(kf.typ)))
		}
	}
	return nil
}
