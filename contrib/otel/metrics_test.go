package otel_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	connotel "github.com/connwatch/connwatch/contrib/otel"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/internal/conntest"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// newMetrics returns Metrics on a MeterProvider with a manual reader.
func newMetrics(t *testing.T, opts ...connotel.Option) (*connotel.Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background()), "MeterProvider.Shutdown") })
	m, err := connotel.New(mp, opts...)
	require.NoError(t, err, "New")
	return m, reader
}

// collect flattens what reader collects: "name{k=v,...}" -> value for sums,
// and -> count for histograms, with "name{...}.sum" -> sum.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm), "Collect")
	got := map[string]float64{}
	key := func(name string, set attribute.Set) string {
		var kvs []string
		for _, kv := range set.ToSlice() {
			kvs = append(kvs, string(kv.Key)+"="+kv.Value.String())
		}
		sort.Strings(kvs)
		return name + "{" + strings.Join(kvs, ",") + "}"
	}
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, connotel.ScopeName, sm.Scope.Name, "scope")
		for _, md := range sm.Metrics {
			switch data := md.Data.(type) {
			case metricdata.Sum[int64]:
				require.Equal(t, metricdata.CumulativeTemporality, data.Temporality, md.Name)
				for _, dp := range data.DataPoints {
					got[key(md.Name, dp.Attributes)] = float64(dp.Value)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					k := key(md.Name, dp.Attributes)
					got[k] = float64(dp.Count)
					got[k+".sum"] = dp.Sum
					got[k+".buckets"] = float64(len(dp.Bounds))
				}
			default:
				t.Fatalf("%s: unexpected data %T", md.Name, md.Data)
			}
		}
	}
	return got
}

// traffic runs four conns of every kind and a refused dial through a
// listener named "api" and a dialer named "backend", both hooked to m, and
// returns when every conn has closed on both ends.
func traffic(t *testing.T, m *connotel.Metrics) {
	t.Helper()
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("api"), trackedconn.WithHook(m))
	require.NoError(t, err, "Listen")
	stop := conntest.Serve(t, ln)
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(m))
	m.TrackDialer("backend", d)
	for _, cmd := range []byte{conntest.CmdEcho, conntest.CmdClose, conntest.CmdHalf, conntest.CmdReset} {
		conntest.Exchange(t, d, ln.Addr().String(), cmd)
	}
	conntest.DialRefused(t, d)
	stop()
	require.Zero(t, d.Stats().Active, "client conns left open")
}

func TestMetricsAfterTraffic(t *testing.T) {
	m, reader := newMetrics(t)
	traffic(t, m)
	got := collect(t, reader)

	const (
		srv = "connwatch.name=api,connwatch.side=server"
		cli = "connwatch.name=backend,connwatch.side=client"
	)
	// The server reads 1 command byte per conn and writes "pong" (echo) and
	// "bye" (half); the client the other way round. Server causes: echo peer,
	// close local, half peer, reset local. Client causes: echo local, close
	// peer, half peer, reset reset.
	want := map[string]float64{
		"connwatch.conn.opened{" + srv + "}": 4,
		"connwatch.conn.opened{" + cli + "}": 4,
		"connwatch.conn.active{" + srv + "}": 0,
		"connwatch.conn.active{" + cli + "}": 0,

		"connwatch.conn.closed{connwatch.cause=local," + srv + "}": 2,
		"connwatch.conn.closed{connwatch.cause=peer," + srv + "}":  2,
		"connwatch.conn.closed{connwatch.cause=local," + cli + "}": 1,
		"connwatch.conn.closed{connwatch.cause=peer," + cli + "}":  2,
		"connwatch.conn.closed{connwatch.cause=reset," + cli + "}": 1,

		"connwatch.conn.peer_closed{" + srv + "}":                               2,
		"connwatch.conn.peer_closed{" + cli + "}":                               2,
		"connwatch.conn.half_closed{" + cli + ",network.io.direction=transmit}": 1,
		"connwatch.conn.reset{" + cli + "}":                                     1,

		"connwatch.conn.io{" + srv + ",network.io.direction=receive}":  4,
		"connwatch.conn.io{" + srv + ",network.io.direction=transmit}": 7,
		"connwatch.conn.io{" + cli + ",network.io.direction=receive}":  7,
		"connwatch.conn.io{" + cli + ",network.io.direction=transmit}": 4,

		"connwatch.conn.duration{" + srv + "}":         4,
		"connwatch.conn.duration{" + cli + "}":         4,
		"connwatch.conn.duration{" + srv + "}.buckets": float64(len(connotel.DefaultDurationBoundaries)),
		"connwatch.conn.duration{" + cli + "}.buckets": float64(len(connotel.DefaultDurationBoundaries)),

		"connwatch.dial.attempted{connwatch.name=backend}":                     5,
		"connwatch.dial.failed{connwatch.name=backend,error.type=refused}":     1,
		"connwatch.dial.failed{connwatch.name=backend,error.type=canceled}":    0,
		"connwatch.dial.failed{connwatch.name=backend,error.type=dns}":         0,
		"connwatch.dial.failed{connwatch.name=backend,error.type=timeout}":     0,
		"connwatch.dial.failed{connwatch.name=backend,error.type=unreachable}": 0,
		"connwatch.dial.failed{connwatch.name=backend,error.type=tls}":         0,
		"connwatch.dial.failed{connwatch.name=backend,error.type=other}":       0,
	}
	for _, side := range []string{srv, cli} {
		k := "connwatch.conn.duration{" + side + "}.sum"
		assert.Positive(t, got[k], "%s: sum of durations", k)
		delete(got, k)
	}
	assert.Equal(t, dump(want), dump(got), "collected data points")
}

// dump sorts a flattened collection, one point a line, so that a failure
// shows a readable diff.
func dump(m map[string]float64) string {
	lines := make([]string, 0, len(m))
	for k, v := range m {
		lines = append(lines, fmt.Sprintf("%s %v", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestSideUnknownCounted(t *testing.T) {
	m, reader := newMetrics(t, connotel.WithDurationBoundaries(1, 60))
	a, b := net.Pipe()
	ta := trackedconn.Wrap(a, trackedconn.WithHook(m))
	require.NoError(t, ta.Close())
	require.NoError(t, b.Close())
	got := collect(t, reader)
	const side = "connwatch.name=,connwatch.side=unknown"
	assert.Equal(t, 1.0, got["connwatch.conn.opened{"+side+"}"], "opened")
	assert.Equal(t, 1.0, got["connwatch.conn.closed{connwatch.cause=local,"+side+"}"], "closed")
	assert.Equal(t, 2.0, got["connwatch.conn.duration{"+side+"}.buckets"], "WithDurationBoundaries(1, 60)")
	_, ok := got["connwatch.dial.attempted{connwatch.name=}"]
	assert.False(t, ok, "dial.attempted without a tracked dialer")
}

func TestTrackDialer(t *testing.T) {
	m, reader := newMetrics(t)
	d1, d2 := dialer.New(), dialer.New()
	untrack1 := m.TrackDialer("db", d1)
	m.TrackDialer("db", d2)
	require.Panics(t, func() { m.TrackDialer("again", d1) }, "tracking a dialer twice")
	require.Panics(t, func() { m.TrackDialer("nil", nil) }, "tracking a nil dialer")

	const attempted = "connwatch.dial.attempted{connwatch.name=db}"
	const refused = "connwatch.dial.failed{connwatch.name=db,error.type=refused}"
	require.Equal(t, 0.0, collect(t, reader)[attempted], "before any dial")
	conntest.DialRefused(t, d1)
	conntest.DialRefused(t, d2)
	got := collect(t, reader)
	require.Equal(t, 2.0, got[attempted], "two dialers under one name add up")
	require.Equal(t, 2.0, got[refused], "refused")

	untrack1()
	untrack1()
	conntest.DialRefused(t, d1)
	got = collect(t, reader)
	require.Equal(t, 2.0, got[attempted], "untracking keeps the counts, and stops counting")
	require.Equal(t, 2.0, got[refused], "refused after untrack")
	_, ok := got["connwatch.dial.attempted{connwatch.name=again}"]
	require.False(t, ok, "a refused TrackDialer leaves no series")
}

func TestNilMeterProvider(t *testing.T) {
	m, err := connotel.New(nil)
	require.NoError(t, err, "New(nil) uses the global (no-op by default) provider")
	m.ConnEvent(trackedconn.EventOpen, trackedconn.State{Name: "x", Side: trackedconn.SideServer})
}

func TestNewBadBoundaries(t *testing.T) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { require.NoError(t, mp.Shutdown(context.Background())) }()
	_, err := connotel.New(mp, connotel.WithDurationBoundaries(2, 1))
	require.Error(t, err, "New with decreasing boundaries reports the SDK's error, at construction")
}
