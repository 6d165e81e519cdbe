package prometheus

import (
	"slices"
	"strings"
	"sync"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
	prom "github.com/prometheus/client_golang/prometheus"
)

// DefaultNamespace is the namespace of the metrics unless WithNamespace
// says otherwise; with it the names are go-conntrack's.
const DefaultNamespace = "net"

// subsystem is go-conntrack's.
const subsystem = "conntrack"

// defaultName labels the conns that have no State.Name, as in go-conntrack.
const defaultName = "default"

// DefaultDurationBuckets are the buckets of the conn duration histograms, in
// seconds: from a millisecond to a day.
var DefaultDurationBuckets = []float64{0.001, 0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600}

// causes are the Causes of a closed conn, in the order they are exported.
var causes = [...]trackedconn.Cause{
	trackedconn.CauseLocal, trackedconn.CausePeer, trackedconn.CauseReset,
	trackedconn.CauseTimeout, trackedconn.CauseError, trackedconn.CauseLeak,
}

// Failure reasons of go-conntrack's net_conntrack_dialer_conn_failed_total.
const (
	reasonResolution = "resolution"
	reasonRefused    = "refused"
	reasonTimeout    = "timeout"
	reasonUnknown    = "unknown"
)

var reasons = [...]string{reasonResolution, reasonRefused, reasonTimeout, reasonUnknown}

// An Option configures a Collector.
type Option interface{ apply(*config) }

type config struct {
	namespace string
	buckets   []float64
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithNamespace sets the namespace of the metric names, DefaultNamespace
// ("net") if not given. The subsystem is always "conntrack": with namespace
// "myapp" the names are myapp_conntrack_listener_conn_accepted_total and so
// on; with "" they are conntrack_listener_conn_accepted_total. It overrides
// an earlier WithNamespace. Two Collectors with different namespaces can be
// registered on the same registry.
func WithNamespace(ns string) Option {
	return optionFunc(func(c *config) { c.namespace = ns })
}

// WithDurationBuckets sets the upper bounds, in seconds, of the buckets of
// the conn duration histograms; DefaultDurationBuckets if not given. It
// overrides an earlier WithDurationBuckets. The bounds must be increasing:
// New panics otherwise (rather than the first conn's hook, as the
// Prometheus client would). No bounds means prometheus.DefBuckets.
func WithDurationBuckets(buckets []float64) Option {
	b := append([]float64(nil), buckets...)
	return optionFunc(func(c *config) { c.buckets = b })
}

// Collector counts the conns of listeners and dialers for Prometheus.
// It is a trackedconn.Hook: give it to listener.Listen, listener.Wrap,
// dialer.New or dialer.Wrap with trackedconn.WithHook. It is a
// prometheus.Collector: register it on your registry. TrackDialer adds a
// dialer's attempts and failures. See the package documentation for the
// metrics.
//
// Create a Collector with New; a zero Collector is not usable. A Collector
// is safe for concurrent use.
type Collector struct {
	listener, dialer family

	attempted *prom.Desc // dialer_conn_attempted_total{dialer_name}
	failed    *prom.Desc // dialer_conn_failed_total{dialer_name,reason}

	names sync.Map // nameKey -> *connMetrics

	mu      sync.Mutex
	dialers map[*dialer.Dialer]string // tracked dialers and their names
	retired map[string]dialCounts     // counts of untracked dialers, by name
}

var (
	_ trackedconn.Hook = (*Collector)(nil)
	_ prom.Collector   = (*Collector)(nil)
)

// New returns a Collector with no counts. It registers nothing: register it
// with reg.MustRegister(c) on the registry you serve.
func New(opts ...Option) *Collector {
	cfg := config{namespace: DefaultNamespace, buckets: slices.Clone(DefaultDurationBuckets)}
	for _, o := range opts {
		o.apply(&cfg)
	}
	for i := 1; i < len(cfg.buckets); i++ {
		if !(cfg.buckets[i] > cfg.buckets[i-1]) {
			panic("contrib/prometheus: WithDurationBuckets: bounds are not increasing")
		}
	}
	fq := func(name string) string { return prom.BuildFQName(cfg.namespace, subsystem, name) }
	return &Collector{
		listener: newFamily(cfg, "listener", "accepted"),
		dialer:   newFamily(cfg, "dialer", "established"),
		attempted: prom.NewDesc(fq("dialer_conn_attempted_total"),
			"Total number of connections attempted by the dialer of a given name.",
			[]string{"dialer_name"}, nil),
		failed: prom.NewDesc(fq("dialer_conn_failed_total"),
			"Total number of connections that the dialer of a given name failed to dial, by reason.",
			[]string{"dialer_name", "reason"}, nil),
		dialers: make(map[*dialer.Dialer]string),
		retired: make(map[string]dialCounts),
	}
}

// family holds the metric vectors of one side: listener_* or dialer_*.
type family struct {
	opened, closed, byCause, peerClosed, halfClosed *prom.CounterVec
	reset, leaked, readBytes, writtenBytes          *prom.CounterVec
	open                                            *prom.GaugeVec
	duration                                        *prom.HistogramVec
}

// newFamily builds the vectors of a side. prefix is "listener" or "dialer",
// opened the verb of its opened counter ("accepted", "established").
func newFamily(cfg config, prefix, opened string) family {
	label := prefix + "_name"
	counter := func(name, help string, extra ...string) *prom.CounterVec {
		return prom.NewCounterVec(prom.CounterOpts{
			Namespace: cfg.namespace, Subsystem: subsystem,
			Name: prefix + "_" + name, Help: help,
		}, append([]string{label}, extra...))
	}
	of := " of the " + prefix + " of a given name"
	return family{
		opened:       counter("conn_"+opened+"_total", "Total number of connections "+opened+" by the "+prefix+" of a given name."),
		closed:       counter("conn_closed_total", "Total number of closed connections"+of+"."),
		byCause:      counter("conn_closed_by_cause_total", "Total number of closed connections"+of+", by why they ended.", "cause"),
		peerClosed:   counter("conn_peer_closed_total", "Total number of connections"+of+" whose peer closed its side (EOF)."),
		halfClosed:   counter("conn_half_closed_total", "Total number of half-closes (CloseRead, CloseWrite) of connections"+of+", by direction.", "direction"),
		reset:        counter("conn_reset_total", "Total number of connections"+of+" that were reset or hit a broken pipe."),
		leaked:       counter("conn_leaked_total", "Total number of connections"+of+" reclaimed by the leak detector."),
		readBytes:    counter("conn_read_bytes_total", "Total bytes read by closed connections"+of+", counted when they close."),
		writtenBytes: counter("conn_written_bytes_total", "Total bytes written by closed connections"+of+", counted when they close."),
		open: prom.NewGaugeVec(prom.GaugeOpts{
			Namespace: cfg.namespace, Subsystem: subsystem,
			Name: prefix + "_conn_open", Help: "Number of open connections" + of + ".",
		}, []string{label}),
		duration: prom.NewHistogramVec(prom.HistogramOpts{
			Namespace: cfg.namespace, Subsystem: subsystem,
			Name: prefix + "_conn_duration_seconds", Help: "Lifetime of closed connections" + of + ", in seconds.",
			Buckets: cfg.buckets,
		}, []string{label}),
	}
}

func (f *family) describe(ch chan<- *prom.Desc) {
	for _, v := range f.counters() {
		v.Describe(ch)
	}
	f.open.Describe(ch)
	f.duration.Describe(ch)
}

func (f *family) collect(ch chan<- prom.Metric) {
	for _, v := range f.counters() {
		v.Collect(ch)
	}
	f.open.Collect(ch)
	f.duration.Collect(ch)
}

func (f *family) counters() [9]*prom.CounterVec {
	return [...]*prom.CounterVec{f.opened, f.closed, f.byCause, f.peerClosed, f.halfClosed, f.reset, f.leaked, f.readBytes, f.writtenBytes}
}

// connMetrics are the series of one name on one side, resolved once.
type connMetrics struct {
	opened, closed                  prom.Counter
	byCause                         [len(causes)]prom.Counter
	peerClosed, readShut, writeShut prom.Counter
	reset, leaked                   prom.Counter
	readBytes, writtenBytes         prom.Counter
	open                            prom.Gauge
	duration                        prom.Observer
}

func (f *family) resolve(name string) *connMetrics {
	name = strings.ToValidUTF8(name, "\uFFFD") // an invalid label value would panic
	m := &connMetrics{
		opened:       f.opened.WithLabelValues(name),
		closed:       f.closed.WithLabelValues(name),
		peerClosed:   f.peerClosed.WithLabelValues(name),
		readShut:     f.halfClosed.WithLabelValues(name, "read"),
		writeShut:    f.halfClosed.WithLabelValues(name, "write"),
		reset:        f.reset.WithLabelValues(name),
		leaked:       f.leaked.WithLabelValues(name),
		readBytes:    f.readBytes.WithLabelValues(name),
		writtenBytes: f.writtenBytes.WithLabelValues(name),
		open:         f.open.WithLabelValues(name),
		duration:     f.duration.WithLabelValues(name),
	}
	for i, cause := range causes {
		m.byCause[i] = f.byCause.WithLabelValues(name, cause.String())
	}
	return m
}

type nameKey struct {
	side trackedconn.Side
	name string
}

// metrics returns the series of name on side, creating them on first use,
// or nil for a side that is not counted.
func (c *Collector) metrics(side trackedconn.Side, name string) *connMetrics {
	if name == "" {
		name = defaultName
	}
	key := nameKey{side, name}
	if m, ok := c.names.Load(key); ok {
		return m.(*connMetrics)
	}
	var f *family
	switch side {
	case trackedconn.SideServer:
		f = &c.listener
	case trackedconn.SideClient:
		f = &c.dialer
	default:
		return nil
	}
	m, _ := c.names.LoadOrStore(key, f.resolve(name))
	return m.(*connMetrics)
}

// ConnEvent counts e for the conn s: it implements trackedconn.Hook.
// Conns of trackedconn.SideUnknown are not counted.
func (c *Collector) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	m := c.metrics(s.Side, s.Name)
	if m == nil {
		return
	}
	switch e {
	case trackedconn.EventOpen:
		m.opened.Inc()
		m.open.Inc()
	case trackedconn.EventPeerClosed:
		m.peerClosed.Inc()
	case trackedconn.EventReadShut:
		m.readShut.Inc()
	case trackedconn.EventWriteShut:
		m.writeShut.Inc()
	case trackedconn.EventReset:
		m.reset.Inc()
	case trackedconn.EventLeak:
		m.leaked.Inc()
	case trackedconn.EventClose:
		m.closed.Inc()
		m.open.Dec()
		for i, cause := range causes {
			if cause == s.Cause {
				m.byCause[i].Inc()
				break
			}
		}
		if s.BytesRead > 0 {
			m.readBytes.Add(float64(s.BytesRead))
		}
		if s.BytesWritten > 0 {
			m.writtenBytes.Add(float64(s.BytesWritten))
		}
		m.duration.Observe(s.Age().Seconds())
	}
}

// TrackDialer makes the Collector export d's dial attempts and failures
// under dialer_name name, read from d.Stats and d.Failures at each scrape
// (see the package documentation for the mapping of failures to reasons).
// It also exports d's established and closed counters, at 0, before d's
// first conn. Give d trackedconn.WithName(name) and trackedconn.WithHook(c)
// so that its conns count under the same name.
//
// Several dialers may be tracked under one name: their counts add up.
// The returned function stops tracking d; its counts so far stay in the
// totals, so the counters never go down. Calling it more than once does
// nothing. Track a dialer once: tracking it again after untrack counts its
// earlier dials a second time. TrackDialer panics if d is nil or already
// tracked.
func (c *Collector) TrackDialer(name string, d *dialer.Dialer) (untrack func()) {
	if d == nil {
		panic("contrib/prometheus: TrackDialer with a nil dialer")
	}
	if name == "" {
		name = defaultName
	}
	name = strings.ToValidUTF8(name, "\uFFFD") // an invalid label value would panic in Collect
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.dialers[d]; ok {
		panic("contrib/prometheus: TrackDialer: dialer already tracked")
	}
	c.dialers[d] = name
	c.metrics(trackedconn.SideClient, name) // export established and closed at 0
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.retired[name] = c.retired[name].add(countsOf(d))
			delete(c.dialers, d)
		})
	}
}

// dialCounts are a dialer's attempts and its failures by go-conntrack reason.
type dialCounts struct {
	attempted uint64
	failed    [len(reasons)]uint64 // indexed like reasons
}

func countsOf(d *dialer.Dialer) dialCounts {
	f := d.Failures()
	return dialCounts{
		attempted: d.Stats().Opened + f.Total(), // so attempted >= the sum of failed
		failed: [len(reasons)]uint64{
			f.DNS,                           // resolution
			f.Refused,                       // refused
			f.Timeout + f.Canceled,          // timeout
			f.Unreachable + f.TLS + f.Other, // unknown
		},
	}
}

func (a dialCounts) add(b dialCounts) dialCounts {
	a.attempted += b.attempted
	for i := range a.failed {
		a.failed[i] += b.failed[i]
	}
	return a
}

// Describe sends the descriptors of every metric the Collector exports:
// it implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	c.listener.describe(ch)
	c.dialer.describe(ch)
	ch <- c.attempted
	ch <- c.failed
}

// Collect sends the current value of every metric: it implements
// prometheus.Collector.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	c.listener.collect(ch)
	c.dialer.collect(ch)

	c.mu.Lock()
	byName := make(map[string]dialCounts, len(c.dialers)+len(c.retired))
	for name, n := range c.retired {
		byName[name] = n
	}
	for d, name := range c.dialers {
		byName[name] = byName[name].add(countsOf(d))
	}
	c.mu.Unlock()

	for name, n := range byName {
		ch <- prom.MustNewConstMetric(c.attempted, prom.CounterValue, float64(n.attempted), name)
		for i, reason := range reasons {
			ch <- prom.MustNewConstMetric(c.failed, prom.CounterValue, float64(n.failed[i]), name, reason)
		}
	}
}
