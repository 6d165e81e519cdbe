package prometheus_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	connprom "github.com/connwatch/connwatch/contrib/prometheus"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/internal/conntest"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// conntrackNames are the go-conntrack-compatible metrics.
var conntrackNames = []string{
	"net_conntrack_listener_conn_accepted_total",
	"net_conntrack_listener_conn_closed_total",
	"net_conntrack_dialer_conn_attempted_total",
	"net_conntrack_dialer_conn_established_total",
	"net_conntrack_dialer_conn_failed_total",
	"net_conntrack_dialer_conn_closed_total",
}

const wantConntrack = `
# HELP net_conntrack_dialer_conn_attempted_total Total number of connections attempted by the dialer of a given name.
# TYPE net_conntrack_dialer_conn_attempted_total counter
net_conntrack_dialer_conn_attempted_total{dialer_name="backend"} 5
# HELP net_conntrack_dialer_conn_closed_total Total number of closed connections of the dialer of a given name.
# TYPE net_conntrack_dialer_conn_closed_total counter
net_conntrack_dialer_conn_closed_total{dialer_name="backend"} 4
# HELP net_conntrack_dialer_conn_established_total Total number of connections established by the dialer of a given name.
# TYPE net_conntrack_dialer_conn_established_total counter
net_conntrack_dialer_conn_established_total{dialer_name="backend"} 4
# HELP net_conntrack_dialer_conn_failed_total Total number of connections that the dialer of a given name failed to dial, by reason.
# TYPE net_conntrack_dialer_conn_failed_total counter
net_conntrack_dialer_conn_failed_total{dialer_name="backend",reason="refused"} 1
net_conntrack_dialer_conn_failed_total{dialer_name="backend",reason="resolution"} 0
net_conntrack_dialer_conn_failed_total{dialer_name="backend",reason="timeout"} 0
net_conntrack_dialer_conn_failed_total{dialer_name="backend",reason="unknown"} 0
# HELP net_conntrack_listener_conn_accepted_total Total number of connections accepted by the listener of a given name.
# TYPE net_conntrack_listener_conn_accepted_total counter
net_conntrack_listener_conn_accepted_total{listener_name="api"} 4
# HELP net_conntrack_listener_conn_closed_total Total number of closed connections of the listener of a given name.
# TYPE net_conntrack_listener_conn_closed_total counter
net_conntrack_listener_conn_closed_total{listener_name="api"} 4
`

// extraNames are the metrics that go-conntrack lacks, less the histograms.
var extraNames = []string{
	"net_conntrack_listener_conn_open",
	"net_conntrack_listener_conn_closed_by_cause_total",
	"net_conntrack_listener_conn_peer_closed_total",
	"net_conntrack_listener_conn_half_closed_total",
	"net_conntrack_listener_conn_reset_total",
	"net_conntrack_listener_conn_leaked_total",
	"net_conntrack_listener_conn_read_bytes_total",
	"net_conntrack_listener_conn_written_bytes_total",
	"net_conntrack_dialer_conn_open",
	"net_conntrack_dialer_conn_closed_by_cause_total",
	"net_conntrack_dialer_conn_peer_closed_total",
	"net_conntrack_dialer_conn_half_closed_total",
	"net_conntrack_dialer_conn_reset_total",
	"net_conntrack_dialer_conn_leaked_total",
	"net_conntrack_dialer_conn_read_bytes_total",
	"net_conntrack_dialer_conn_written_bytes_total",
}

// The server reads 1 command byte per conn and writes "pong" (echo) and "bye"
// (half); the client the other way round. Server causes: echo peer, close
// local, half peer, reset local. Client causes: echo local, close peer, half
// peer, reset reset.
const wantExtra = `
# HELP net_conntrack_dialer_conn_closed_by_cause_total Total number of closed connections of the dialer of a given name, by why they ended.
# TYPE net_conntrack_dialer_conn_closed_by_cause_total counter
net_conntrack_dialer_conn_closed_by_cause_total{cause="error",dialer_name="backend"} 0
net_conntrack_dialer_conn_closed_by_cause_total{cause="leak",dialer_name="backend"} 0
net_conntrack_dialer_conn_closed_by_cause_total{cause="local",dialer_name="backend"} 1
net_conntrack_dialer_conn_closed_by_cause_total{cause="peer",dialer_name="backend"} 2
net_conntrack_dialer_conn_closed_by_cause_total{cause="reset",dialer_name="backend"} 1
net_conntrack_dialer_conn_closed_by_cause_total{cause="stalled",dialer_name="backend"} 0
net_conntrack_dialer_conn_closed_by_cause_total{cause="timeout",dialer_name="backend"} 0
# HELP net_conntrack_dialer_conn_half_closed_total Total number of half-closes (CloseRead, CloseWrite) of connections of the dialer of a given name, by direction.
# TYPE net_conntrack_dialer_conn_half_closed_total counter
net_conntrack_dialer_conn_half_closed_total{dialer_name="backend",direction="read"} 0
net_conntrack_dialer_conn_half_closed_total{dialer_name="backend",direction="write"} 1
# HELP net_conntrack_dialer_conn_leaked_total Total number of connections of the dialer of a given name reclaimed by the leak detector.
# TYPE net_conntrack_dialer_conn_leaked_total counter
net_conntrack_dialer_conn_leaked_total{dialer_name="backend"} 0
# HELP net_conntrack_dialer_conn_open Number of open connections of the dialer of a given name.
# TYPE net_conntrack_dialer_conn_open gauge
net_conntrack_dialer_conn_open{dialer_name="backend"} 0
# HELP net_conntrack_dialer_conn_peer_closed_total Total number of connections of the dialer of a given name whose peer closed its side (EOF).
# TYPE net_conntrack_dialer_conn_peer_closed_total counter
net_conntrack_dialer_conn_peer_closed_total{dialer_name="backend"} 2
# HELP net_conntrack_dialer_conn_read_bytes_total Total bytes read by closed connections of the dialer of a given name, counted when they close.
# TYPE net_conntrack_dialer_conn_read_bytes_total counter
net_conntrack_dialer_conn_read_bytes_total{dialer_name="backend"} 7
# HELP net_conntrack_dialer_conn_reset_total Total number of connections of the dialer of a given name that were reset or hit a broken pipe.
# TYPE net_conntrack_dialer_conn_reset_total counter
net_conntrack_dialer_conn_reset_total{dialer_name="backend"} 1
# HELP net_conntrack_dialer_conn_written_bytes_total Total bytes written by closed connections of the dialer of a given name, counted when they close.
# TYPE net_conntrack_dialer_conn_written_bytes_total counter
net_conntrack_dialer_conn_written_bytes_total{dialer_name="backend"} 4
# HELP net_conntrack_listener_conn_closed_by_cause_total Total number of closed connections of the listener of a given name, by why they ended.
# TYPE net_conntrack_listener_conn_closed_by_cause_total counter
net_conntrack_listener_conn_closed_by_cause_total{cause="error",listener_name="api"} 0
net_conntrack_listener_conn_closed_by_cause_total{cause="leak",listener_name="api"} 0
net_conntrack_listener_conn_closed_by_cause_total{cause="local",listener_name="api"} 2
net_conntrack_listener_conn_closed_by_cause_total{cause="peer",listener_name="api"} 2
net_conntrack_listener_conn_closed_by_cause_total{cause="reset",listener_name="api"} 0
net_conntrack_listener_conn_closed_by_cause_total{cause="stalled",listener_name="api"} 0
net_conntrack_listener_conn_closed_by_cause_total{cause="timeout",listener_name="api"} 0
# HELP net_conntrack_listener_conn_half_closed_total Total number of half-closes (CloseRead, CloseWrite) of connections of the listener of a given name, by direction.
# TYPE net_conntrack_listener_conn_half_closed_total counter
net_conntrack_listener_conn_half_closed_total{direction="read",listener_name="api"} 0
net_conntrack_listener_conn_half_closed_total{direction="write",listener_name="api"} 0
# HELP net_conntrack_listener_conn_leaked_total Total number of connections of the listener of a given name reclaimed by the leak detector.
# TYPE net_conntrack_listener_conn_leaked_total counter
net_conntrack_listener_conn_leaked_total{listener_name="api"} 0
# HELP net_conntrack_listener_conn_open Number of open connections of the listener of a given name.
# TYPE net_conntrack_listener_conn_open gauge
net_conntrack_listener_conn_open{listener_name="api"} 0
# HELP net_conntrack_listener_conn_peer_closed_total Total number of connections of the listener of a given name whose peer closed its side (EOF).
# TYPE net_conntrack_listener_conn_peer_closed_total counter
net_conntrack_listener_conn_peer_closed_total{listener_name="api"} 2
# HELP net_conntrack_listener_conn_read_bytes_total Total bytes read by closed connections of the listener of a given name, counted when they close.
# TYPE net_conntrack_listener_conn_read_bytes_total counter
net_conntrack_listener_conn_read_bytes_total{listener_name="api"} 4
# HELP net_conntrack_listener_conn_reset_total Total number of connections of the listener of a given name that were reset or hit a broken pipe.
# TYPE net_conntrack_listener_conn_reset_total counter
net_conntrack_listener_conn_reset_total{listener_name="api"} 0
# HELP net_conntrack_listener_conn_written_bytes_total Total bytes written by closed connections of the listener of a given name, counted when they close.
# TYPE net_conntrack_listener_conn_written_bytes_total counter
net_conntrack_listener_conn_written_bytes_total{listener_name="api"} 7
`

// traffic runs four conns of every kind and a refused dial through a
// listener named "api" and a dialer named "backend", both hooked to c, and
// returns when every conn has closed on both ends.
func traffic(t *testing.T, c *connprom.Collector) {
	t.Helper()
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("api"), trackedconn.WithHook(c))
	require.NoError(t, err, "Listen")
	stop := conntest.Serve(t, ln)
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(c))
	c.TrackDialer("backend", d)

	for _, cmd := range []byte{conntest.CmdEcho, conntest.CmdClose, conntest.CmdHalf, conntest.CmdReset} {
		conntest.Exchange(t, d, ln.Addr().String(), cmd)
	}
	conntest.DialRefused(t, d)
	stop() // Shutdown waits for the server conns' EventClose hooks
	require.Zero(t, d.Stats().Active, "client conns left open")
}

func TestCollectorExposition(t *testing.T) {
	c := connprom.New()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c), "Register on a fresh registry")

	traffic(t, c)

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(wantConntrack), conntrackNames...),
		"go-conntrack metrics")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(wantExtra), extraNames...),
		"metrics beyond go-conntrack")
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(wantConntrack), conntrackNames...),
		"CollectAndCompare on the Collector itself")

	mfs, err := reg.Gather()
	require.NoError(t, err, "Gather")
	for _, name := range []string{"net_conntrack_listener_conn_duration_seconds", "net_conntrack_dialer_conn_duration_seconds"} {
		h := histogram(t, mfs, name)
		assert.Equal(t, uint64(4), h.GetSampleCount(), "%s: sample count", name)
		assert.Positive(t, h.GetSampleSum(), "%s: sum of durations", name)
		assert.Len(t, h.GetBucket(), len(connprom.DefaultDurationBuckets), "%s: buckets", name)
	}

	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err, "GatherAndLint")
	for _, p := range problems {
		// go-conntrack's names are kept as they are, even where the linter
		// would prefer others.
		t.Logf("lint: %s: %s", p.Metric, p.Text)
	}
}

// histogram returns the single histogram of the family name.
func histogram(t *testing.T, mfs []*dto.MetricFamily, name string) *dto.Histogram {
	t.Helper()
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1, "%s: series", name)
			h := mf.GetMetric()[0].GetHistogram()
			require.NotNil(t, h, "%s is not a histogram", name)
			return h
		}
	}
	t.Fatalf("%s not gathered", name)
	return nil
}

func TestRegistryNotGlobal(t *testing.T) {
	before := globalConntrack(t)

	c := connprom.New()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c), "Register on prometheus.NewRegistry()")
	traffic(t, c)
	n, err := testutil.GatherAndCount(reg, "net_conntrack_listener_conn_accepted_total")
	require.NoError(t, err)
	require.Equal(t, 1, n, "series of listener_conn_accepted_total in the private registry")

	// A second Collector with the same namespace collides; another
	// namespace does not.
	err = reg.Register(connprom.New())
	var are prometheus.AlreadyRegisteredError
	require.True(t, errors.As(err, &are), "second Collector, same namespace: got %v, want AlreadyRegisteredError", err)
	require.NoError(t, reg.Register(connprom.New(connprom.WithNamespace("other"))), "second Collector, other namespace")

	require.Equal(t, before, globalConntrack(t), "conntrack metrics in the default registry")
	// Nothing of ours is on the default registry: the same descriptors
	// register there without a collision.
	probe := connprom.New()
	require.NoError(t, prometheus.DefaultRegisterer.Register(probe), "Register on DefaultRegisterer")
	require.True(t, prometheus.DefaultRegisterer.Unregister(probe), "Unregister from DefaultRegisterer")
}

// globalConntrack returns the names of the default registry's families
// that contain "conntrack".
func globalConntrack(t *testing.T) []string {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err, "DefaultGatherer.Gather")
	var names []string
	for _, mf := range mfs {
		if strings.Contains(mf.GetName(), "conntrack") {
			names = append(names, mf.GetName())
		}
	}
	return names
}

func TestNamespace(t *testing.T) {
	c := connprom.New(connprom.WithNamespace("myapp"), connprom.WithDurationBuckets([]float64{1, 60}))
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithHook(c))
	require.NoError(t, err, "Listen")
	stop := conntest.Serve(t, ln)
	d := dialer.New(trackedconn.WithHook(c))
	conntest.Exchange(t, d, ln.Addr().String(), conntest.CmdEcho)
	stop()

	const want = `
# HELP myapp_conntrack_dialer_conn_established_total Total number of connections established by the dialer of a given name.
# TYPE myapp_conntrack_dialer_conn_established_total counter
myapp_conntrack_dialer_conn_established_total{dialer_name="default"} 1
# HELP myapp_conntrack_listener_conn_accepted_total Total number of connections accepted by the listener of a given name.
# TYPE myapp_conntrack_listener_conn_accepted_total counter
myapp_conntrack_listener_conn_accepted_total{listener_name="default"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"myapp_conntrack_dialer_conn_established_total", "myapp_conntrack_listener_conn_accepted_total"),
		"unnamed conns count under \"default\", names under the namespace")
	// An untracked dialer has no attempted or failed series.
	n := testutil.CollectAndCount(c, "myapp_conntrack_dialer_conn_attempted_total", "myapp_conntrack_dialer_conn_failed_total")
	require.Zero(t, n, "attempted/failed series without TrackDialer")
}

func TestSideUnknownIgnored(t *testing.T) {
	c := connprom.New()
	a, b := net.Pipe()
	ta := trackedconn.Wrap(a, trackedconn.WithName("bare"), trackedconn.WithHook(c))
	require.NoError(t, ta.Close())
	require.NoError(t, b.Close())
	require.Zero(t, testutil.CollectAndCount(c), "series after a SideUnknown conn")

	// The same conn with a side counts.
	a, b = net.Pipe()
	ta = trackedconn.Wrap(a, trackedconn.WithName("piped"), trackedconn.WithSide(trackedconn.SideServer), trackedconn.WithHook(c))
	require.NoError(t, ta.Close())
	require.NoError(t, b.Close())
	const want = `
# HELP net_conntrack_listener_conn_closed_total Total number of closed connections of the listener of a given name.
# TYPE net_conntrack_listener_conn_closed_total counter
net_conntrack_listener_conn_closed_total{listener_name="piped"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "net_conntrack_listener_conn_closed_total"))
}

func TestTrackDialer(t *testing.T) {
	c := connprom.New()
	d1, d2 := dialer.New(), dialer.New()
	untrack1 := c.TrackDialer("db", d1)
	c.TrackDialer("db", d2)
	require.Panics(t, func() { c.TrackDialer("again", d1) }, "tracking a dialer twice")
	require.Panics(t, func() { c.TrackDialer("nil", nil) }, "tracking a nil dialer")

	attempted := func() float64 {
		const want = `
# HELP net_conntrack_dialer_conn_established_total Total number of connections established by the dialer of a given name.
# TYPE net_conntrack_dialer_conn_established_total counter
net_conntrack_dialer_conn_established_total{dialer_name="db"} 0
`
		require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "net_conntrack_dialer_conn_established_total"),
			"established is exported at 0 once the dialer is tracked")
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(c))
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == "net_conntrack_dialer_conn_attempted_total" {
				require.Len(t, mf.GetMetric(), 1, "one series per name, whatever the number of dialers")
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no attempted series")
		return 0
	}
	require.Equal(t, 0.0, attempted(), "before any dial")
	conntest.DialRefused(t, d1)
	conntest.DialRefused(t, d2)
	require.Equal(t, 2.0, attempted(), "two dialers under one name add up")

	untrack1()
	untrack1()
	require.Equal(t, 2.0, attempted(), "untracking keeps the counts (counters never go down)")
	conntest.DialRefused(t, d1)
	require.Equal(t, 2.0, attempted(), "an untracked dialer's dials are not counted")
	c.TrackDialer("db", d1)
	require.Equal(t, 2.0, attempted(), "tracked again: earlier dials are not counted again")
	conntest.DialRefused(t, d1)
	require.Equal(t, 3.0, attempted(), "tracked again: new dials count")
}

func TestNewPanicsOnBadBuckets(t *testing.T) {
	// The Prometheus client checks buckets when the first series is made,
	// which would be inside the first conn's hook.
	require.Panics(t, func() { connprom.New(connprom.WithDurationBuckets([]float64{1, 1})) }, "equal bounds")
	require.Panics(t, func() { connprom.New(connprom.WithDurationBuckets([]float64{2, 1})) }, "decreasing bounds")
	require.NotPanics(t, func() { connprom.New(connprom.WithDurationBuckets(nil)) }, "no bounds: prometheus.DefBuckets")
}

func TestInvalidUTF8Name(t *testing.T) {
	c := connprom.New()
	a, b := net.Pipe()
	ta := trackedconn.Wrap(a, trackedconn.WithName("bad\xffname"), trackedconn.WithSide(trackedconn.SideClient), trackedconn.WithHook(c))
	require.NoError(t, ta.Close())
	require.NoError(t, b.Close())
	want := `
# HELP net_conntrack_dialer_conn_closed_total Total number of closed connections of the dialer of a given name.
# TYPE net_conntrack_dialer_conn_closed_total counter
net_conntrack_dialer_conn_closed_total{dialer_name="bad` + "\uFFFD" + `name"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "net_conntrack_dialer_conn_closed_total"),
		"a name that is not UTF-8 is counted, with U+FFFD")
}
