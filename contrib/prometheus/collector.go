package prometheus

import (
	"errors"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/internal/errclass"
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
	trackedconn.CauseStalled,
}

// reason is a failure reason of go-conntrack's
// net_conntrack_dialer_conn_failed_total.
type reason uint8

const (
	reasonResolution reason = iota
	reasonRefused
	reasonTimeout
	reasonUnknown

	numReasons = iota
)

// reasonNames are the values of the reason label, indexed by reason.
var reasonNames = [numReasons]string{"resolution", "refused", "timeout", "unknown"}

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
// prometheus.Collector: register it on your registry. TrackListener and
// TrackDialer export a name's series at 0 before its first conn;
// TrackDialer also counts the dialer's attempts and failures. See the
// package documentation for the metrics.
//
// Create a Collector with New; a zero Collector is not usable. A Collector
// is safe for concurrent use.
type Collector struct {
	listener, dialer family

	attempted *prom.CounterVec // dialer_conn_attempted_total{dialer_name}
	failed    *prom.CounterVec // dialer_conn_failed_total{dialer_name,reason}

	names sync.Map // nameKey -> *connMetrics
	dials sync.Map // dialer name -> *dialMetrics

	mu      sync.Mutex
	tracked map[*dialer.Dialer]bool // dialers that TrackDialer observes
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
	counter := func(name, help string, labels ...string) *prom.CounterVec {
		return prom.NewCounterVec(prom.CounterOpts{
			Namespace: cfg.namespace, Subsystem: subsystem, Name: name, Help: help,
		}, labels)
	}
	return &Collector{
		listener: newFamily(cfg, "listener", "accepted"),
		dialer:   newFamily(cfg, "dialer", "established"),
		attempted: counter("dialer_conn_attempted_total",
			"Total number of connections attempted by the dialer of a given name.", "dialer_name"),
		failed: counter("dialer_conn_failed_total",
			"Total number of connections that the dialer of a given name failed to dial, by reason.", "dialer_name", "reason"),
		tracked: make(map[*dialer.Dialer]bool),
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

// resolve returns the series of name, a valid label value.
func (f *family) resolve(name string) *connMetrics {
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
	name = labelName(name)
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

// TrackListener exports the listener series of name (accepted, closed,
// open, closes by cause, ...) at 0 from now on, as go-conntrack's
// NewListener does, so that rate() and increase() count the first conn and
// absent() does not fire before it. Call it next to the listener.Listen or
// listener.Wrap that is given trackedconn.WithName(name) and
// trackedconn.WithHook(c). Without it the series appear at the first
// accepted conn. Calling it again for a name does nothing.
func (c *Collector) TrackListener(name string) {
	c.metrics(trackedconn.SideServer, name)
}

// TrackDialer makes the Collector count d's dials under dialer_name name:
// attempted when each dial starts, failed by reason when one fails (see
// the package documentation for the reasons). A dial whose context carries
// a name from dialer.WithName counts under that name instead, as go-conntrack's
// DialNameToContext does. It also exports name's dialer series
// (established, closed, failed by every reason, ...) at 0 from now on, as
// go-conntrack's NewDialContextFunc does. Give d trackedconn.WithName(name)
// and trackedconn.WithHook(c), so that its conns count under the same name.
//
// Several dialers may be tracked under one name: their counts add up.
// The returned function stops counting d's dials; the counts so far stay,
// so the counters never go down. Calling it more than once does nothing.
// TrackDialer panics if d is nil or already tracked by c.
func (c *Collector) TrackDialer(name string, d *dialer.Dialer) (untrack func()) {
	if d == nil {
		panic("contrib/prometheus: TrackDialer with a nil dialer")
	}
	name = labelName(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracked[d] {
		panic("contrib/prometheus: TrackDialer: dialer already tracked")
	}
	c.tracked[d] = true
	c.dialMetrics(name) // export name's series at 0
	remove := d.Observe(&dialObserver{c: c, name: name})
	var once sync.Once
	return func() {
		once.Do(func() {
			remove()
			c.mu.Lock()
			defer c.mu.Unlock()
			delete(c.tracked, d)
		})
	}
}

// labelName returns the label value for name: "default" for "", and valid
// UTF-8, since an invalid label value would panic.
func labelName(name string) string {
	if name == "" {
		return defaultName
	}
	return strings.ToValidUTF8(name, "\uFFFD")
}

// dialMetrics are the attempt and failure series of one dialer name.
type dialMetrics struct {
	attempted prom.Counter
	failed    [numReasons]prom.Counter
}

// dialMetrics returns the attempt and failure series of name (a label
// value), creating them, and the name's other dialer series, on first use.
func (c *Collector) dialMetrics(name string) *dialMetrics {
	if m, ok := c.dials.Load(name); ok {
		return m.(*dialMetrics)
	}
	c.metrics(trackedconn.SideClient, name)
	m := &dialMetrics{attempted: c.attempted.WithLabelValues(name)}
	for r, label := range reasonNames {
		m.failed[r] = c.failed.WithLabelValues(name, label)
	}
	got, _ := c.dials.LoadOrStore(name, m)
	return got.(*dialMetrics)
}

// dialObserver counts the dials of one tracked dialer.
type dialObserver struct {
	c    *Collector
	name string // the name given to TrackDialer, as a label value
}

// metrics returns the series of the dial's name: the one from
// dialer.WithName, else the tracked name.
func (o *dialObserver) metrics(ctxName string) *dialMetrics {
	if ctxName == "" {
		return o.c.dialMetrics(o.name)
	}
	return o.c.dialMetrics(labelName(ctxName))
}

func (o *dialObserver) DialStarted(name string) { o.metrics(name).attempted.Inc() }

func (o *dialObserver) DialFailed(name string, err error) {
	o.metrics(name).failed[reasonOf(err)].Inc()
}

// reasonOf returns the failure reason of a dial error. Each failed dial
// has one reason; the package documentation gives the rules and how they
// differ from go-conntrack's.
func reasonOf(err error) reason {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return reasonResolution // also when the lookup was canceled or timed out
	}
	switch errclass.Classify(err) {
	case errclass.Refused:
		return reasonRefused
	case errclass.ContextDeadline, errclass.Deadline, errclass.TimedOut:
		return reasonTimeout
	}
	return reasonUnknown // canceled, unreachable, TLS, anything else
}

// Describe sends the descriptors of every metric the Collector exports:
// it implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	c.listener.describe(ch)
	c.dialer.describe(ch)
	c.attempted.Describe(ch)
	c.failed.Describe(ch)
}

// Collect sends the current value of every metric: it implements
// prometheus.Collector.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	c.listener.collect(ch)
	c.dialer.collect(ch)
	c.attempted.Collect(ch)
	c.failed.Collect(ch)
}
