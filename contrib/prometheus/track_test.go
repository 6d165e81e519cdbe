package prometheus_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	connprom "github.com/connwatch/connwatch/contrib/prometheus"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/internal/conntest"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// Regression: the listener series appeared only at the first accept, so
// increase() missed the first conn and absent() fired at startup.
func TestTrackListenerZero(t *testing.T) {
	c := connprom.New()
	c.TrackListener("api")
	c.TrackListener("api") // again: nothing changes
	const want = `
# HELP net_conntrack_listener_conn_accepted_total Total number of connections accepted by the listener of a given name.
# TYPE net_conntrack_listener_conn_accepted_total counter
net_conntrack_listener_conn_accepted_total{listener_name="api"} 0
# HELP net_conntrack_listener_conn_closed_total Total number of closed connections of the listener of a given name.
# TYPE net_conntrack_listener_conn_closed_total counter
net_conntrack_listener_conn_closed_total{listener_name="api"} 0
# HELP net_conntrack_listener_conn_open Number of open connections of the listener of a given name.
# TYPE net_conntrack_listener_conn_open gauge
net_conntrack_listener_conn_open{listener_name="api"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"net_conntrack_listener_conn_accepted_total", "net_conntrack_listener_conn_closed_total", "net_conntrack_listener_conn_open"),
		"listener series at 0 before the first conn")
	assert.Zero(t, testutil.CollectAndCount(c, "net_conntrack_dialer_conn_established_total"), "no dialer series for a listener name")

	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithName("api"), trackedconn.WithHook(c))
	require.NoError(t, err)
	stop := conntest.Serve(t, ln)
	d := dialer.New()
	conntest.Exchange(t, d, ln.Addr().String(), conntest.CmdEcho)
	stop()
	assert.Equal(t, 1.0, counterOf(t, c, "net_conntrack_listener_conn_accepted_total", "api").value, "accepted after one conn")
}

// counterOf returns the single series of family with the given name label.
func counterOf(t *testing.T, c *connprom.Collector, family, name string) series {
	t.Helper()
	for _, s := range gatherText(t, c) {
		if s.family == family && strings.Contains(s.labels, `_name="`+name+`"`) {
			return s
		}
	}
	t.Fatalf("no series %s for %q", family, name)
	return series{}
}

// Regression: attempted was computed at scrape time from finished dials,
// so a dial in flight did not show.
func TestAttemptedAtDialStart(t *testing.T) {
	c := connprom.New()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var nd net.Dialer
	d := dialer.Wrap(func(ctx context.Context, network, address string) (net.Conn, error) {
		entered <- struct{}{}
		<-release
		return nd.DialContext(ctx, network, address)
	}, trackedconn.WithName("slow"), trackedconn.WithHook(c))
	c.TrackDialer("slow", d)

	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop := conntest.Serve(t, ln)
	done := make(chan struct{})
	go func() {
		defer close(done)
		conntest.Exchange(t, d, ln.Addr().String(), conntest.CmdEcho)
	}()
	<-entered
	assert.Equal(t, map[string]float64{"attempted": 1, "established": 0, "failed": 0}, dialCounts(t, c, "slow"), "while the dial is in flight")
	close(release)
	<-done
	stop()
	assert.Equal(t, map[string]float64{"attempted": 1, "established": 1, "failed": 0}, dialCounts(t, c, "slow"), "after it")
}

// dialCounts returns attempted, established and the sum of failed for name.
func dialCounts(t *testing.T, c *connprom.Collector, name string) map[string]float64 {
	t.Helper()
	out := map[string]float64{"attempted": 0, "established": 0, "failed": 0}
	for _, s := range gatherText(t, c) {
		if !strings.Contains(s.labels, `dialer_name="`+name+`"`) {
			continue
		}
		switch s.family {
		case "net_conntrack_dialer_conn_attempted_total":
			out["attempted"] += s.value
		case "net_conntrack_dialer_conn_established_total":
			out["established"] += s.value
		case "net_conntrack_dialer_conn_failed_total":
			out["failed"] += s.value
		}
	}
	return out
}

// TestFailureReasons pins the reason of each kind of failed dial; the
// package doc lists where it differs from go-conntrack's and why.
func TestFailureReasons(t *testing.T) {
	refused := conntest.RefusedAddr(t)
	var nd net.Dialer
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		dial dialer.DialFunc // nil: a net.Dialer to refused
		want string
	}{
		{"refused", nil, nil, "refused"},
		{"refused through a proxy's %w", nil, func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, err := nd.DialContext(ctx, network, addr)
			return nil, fmt.Errorf("proxy: dial upstream: %w", err)
		}, "refused"},
		{"context deadline (net.Dialer)", expired, nil, "timeout"},
		{"context.DeadlineExceeded, bare", nil, fail(context.DeadlineExceeded), "timeout"},
		{"kernel ETIMEDOUT", nil, fail(opErr(os.NewSyscallError("connect", syscall.ETIMEDOUT))), "timeout"},
		{"canceled (net.Dialer)", canceled, nil, "unknown"},
		{"context.Canceled, bare", nil, fail(context.Canceled), "unknown"},
		{"DNS", nil, fail(opErr(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true})), "resolution"},
		{"DNS canceled", nil, fail(opErr(&net.DNSError{Err: "operation was canceled", Name: "x.invalid", UnwrapErr: context.Canceled})), "resolution"},
		{"unreachable", nil, fail(opErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH))), "unknown"},
		{"TLS", nil, fail(tls.RecordHeaderError{Msg: "test"}), "unknown"},
		{"other", nil, fail(errors.New("test: broken")), "unknown"},
		{"nil conn, nil error", nil, func(context.Context, string, string) (net.Conn, error) { return nil, nil }, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connprom.New()
			d := dialer.New()
			if tc.dial != nil {
				d = dialer.Wrap(tc.dial)
			}
			c.TrackDialer("d", d)
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := d.DialContext(ctx, "tcp", refused)
			require.Error(t, err)
			got := map[string]float64{}
			for _, s := range gatherText(t, c) {
				if s.family == "net_conntrack_dialer_conn_failed_total" && s.value != 0 {
					got[s.labels] = s.value
				}
			}
			assert.Equal(t, map[string]float64{`dialer_name="d",reason="` + tc.want + `"`: 1}, got, "failed series for %v", err)
		})
	}
}

// fail returns a dial function that fails with err.
func fail(err error) dialer.DialFunc {
	return func(context.Context, string, string) (net.Conn, error) { return nil, err }
}

// Per-call names: dialer.WithName counts a dial, its conn and its
// failure under the context's name, as go-conntrack's DialNameToContext.
func TestPerCallName(t *testing.T) {
	c := connprom.New()
	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop := conntest.Serve(t, ln)
	d := dialer.New(trackedconn.WithName("backend"), trackedconn.WithHook(c))
	c.TrackDialer("backend", d)

	ctx := dialer.WithName(context.Background(), "payments")
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)
	_, err = conn.Write([]byte{conntest.CmdEcho})
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	_, err = d.DialContext(ctx, "tcp", conntest.RefusedAddr(t))
	require.Error(t, err)
	stop()

	assert.Equal(t, map[string]float64{"attempted": 2, "established": 1, "failed": 1}, dialCounts(t, c, "payments"), "payments")
	assert.Equal(t, map[string]float64{"attempted": 0, "established": 0, "failed": 0}, dialCounts(t, c, "backend"), "backend")
	assert.Equal(t, 1.0, counterOf(t, c, "net_conntrack_dialer_conn_closed_total", "payments").value, "closed under the per-call name")
}

type series struct {
	family, labels string
	value          float64
}

// gatherText collects c and returns its counters and gauges.
func gatherText(t *testing.T, c *connprom.Collector) []series {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c), "Register")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var out []series
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out = append(out, series{mf.GetName(), strings.Join(labels, ","), v})
		}
	}
	return out
}
