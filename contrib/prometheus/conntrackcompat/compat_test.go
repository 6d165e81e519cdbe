package conntrackcompat_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	conntrack "github.com/mwitkow/go-conntrack"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	connprom "github.com/connwatch/connwatch/contrib/prometheus"
	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

// The families go-conntrack exports; the test compares only these.
var families = map[string]bool{
	"net_conntrack_listener_conn_accepted_total":  true,
	"net_conntrack_listener_conn_closed_total":    true,
	"net_conntrack_dialer_conn_attempted_total":   true,
	"net_conntrack_dialer_conn_established_total": true,
	"net_conntrack_dialer_conn_failed_total":      true,
	"net_conntrack_dialer_conn_closed_total":      true,
}

// A diff is one series whose value differs between the libraries: its
// value in go-conntrack and in connwatch, "-" where it is absent.
type diff struct {
	series               string
	conntrack, connwatch string
}

func (d diff) String() string {
	return fmt.Sprintf("%s: go-conntrack %s, connwatch %s", d.series, d.conntrack, d.connwatch)
}

// Allowed differences, each with its reason. The README's migration table
// lists every one of them; a change here needs a change there.
var (
	// go-conntrack counts every Close call; connwatch one close per conn.
	secondCloseListener = diff{`net_conntrack_listener_conn_closed_total{listener_name="api"}`, "4", "3"}
	secondCloseDialer   = diff{`net_conntrack_dialer_conn_closed_total{dialer_name="backend"}`, "3", "2"}
	// go-conntrack also counts a refused dial, and a dial past its deadline,
	// as "unknown"; connwatch gives each failed dial one reason.
	refusedAlsoUnknown  = diff{`net_conntrack_dialer_conn_failed_total{dialer_name="refused",reason="unknown"}`, "1", "0"}
	deadlineAlsoUnknown = diff{`net_conntrack_dialer_conn_failed_total{dialer_name="deadline",reason="unknown"}`, "1", "0"}
	// go-conntrack counts the kernel's connect timeout as "unknown".
	etimedoutUnknown = []diff{
		{`net_conntrack_dialer_conn_failed_total{dialer_name="etimedout",reason="timeout"}`, "0", "1"},
		{`net_conntrack_dialer_conn_failed_total{dialer_name="etimedout",reason="unknown"}`, "1", "0"},
	}
	// go-conntrack does not look inside an error that wraps a *net.OpError.
	wrappedUnknown = []diff{
		{`net_conntrack_dialer_conn_failed_total{dialer_name="wrapped",reason="refused"}`, "0", "1"},
		{`net_conntrack_dialer_conn_failed_total{dialer_name="wrapped",reason="unknown"}`, "1", "0"},
	}
	// go-conntrack counts a bare context.Canceled as "timeout".
	bareCanceledTimeout = []diff{
		{`net_conntrack_dialer_conn_failed_total{dialer_name="bare-canceled",reason="timeout"}`, "1", "0"},
		{`net_conntrack_dialer_conn_failed_total{dialer_name="bare-canceled",reason="unknown"}`, "0", "1"},
	}
	// For a name first seen in a dial's context, connwatch exports every
	// reason at 0 (and closed, which is 1 here in both).
	perCallZeroReasons = []diff{
		{`net_conntrack_dialer_conn_failed_total{dialer_name="percall",reason="refused"}`, "-", "0"},
		{`net_conntrack_dialer_conn_failed_total{dialer_name="percall",reason="resolution"}`, "-", "0"},
		{`net_conntrack_dialer_conn_failed_total{dialer_name="percall",reason="timeout"}`, "-", "0"},
		{`net_conntrack_dialer_conn_failed_total{dialer_name="percall",reason="unknown"}`, "-", "0"},
	}
)

// lib is one of the two libraries, set up the way its users would.
type lib interface {
	// listen wraps a loopback listener, as named.
	listen(t *testing.T, name string) net.Listener
	// dialer returns a tracked dial function, as named, that dials with dial.
	dialer(name string, dial dialer.DialFunc) dialer.DialFunc
	// withName names one dial.
	withName(ctx context.Context, name string) context.Context
	// gather returns the families of go-conntrack, from its registry.
	gather(t *testing.T) []*dto.MetricFamily
}

// conntrackLib is go-conntrack: it registers on the default registry at init.
type conntrackLib struct{}

func (conntrackLib) listen(t *testing.T, name string) net.Listener {
	return conntrack.NewListener(loopback(t), conntrack.TrackWithName(name))
}

func (conntrackLib) dialer(name string, dial dialer.DialFunc) dialer.DialFunc {
	return conntrack.NewDialContextFunc(conntrack.DialWithName(name), conntrack.DialWithDialContextFunc(dial))
}

func (conntrackLib) withName(ctx context.Context, name string) context.Context {
	return conntrack.DialNameToContext(ctx, name)
}

func (conntrackLib) gather(t *testing.T) []*dto.MetricFamily {
	mfs, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err, "go-conntrack: Gather")
	return mfs
}

// connwatchLib is contrib/prometheus on a registry of its own.
type connwatchLib struct {
	c   *connprom.Collector
	reg *prometheus.Registry
}

func newConnwatch(t *testing.T) *connwatchLib {
	l := &connwatchLib{c: connprom.New(), reg: prometheus.NewPedanticRegistry()}
	require.NoError(t, l.reg.Register(l.c), "connwatch: Register")
	return l
}

func (l *connwatchLib) listen(t *testing.T, name string) net.Listener {
	ln := listener.Wrap(loopback(t), trackedconn.WithName(name), trackedconn.WithHook(l.c))
	l.c.TrackListener(name)
	return ln
}

func (l *connwatchLib) dialer(name string, dial dialer.DialFunc) dialer.DialFunc {
	d := dialer.Wrap(dial, trackedconn.WithName(name), trackedconn.WithHook(l.c))
	l.c.TrackDialer(name, d)
	return d.DialContext
}

func (l *connwatchLib) withName(ctx context.Context, name string) context.Context {
	return dialer.WithName(ctx, name)
}

func (l *connwatchLib) gather(t *testing.T) []*dto.MetricFamily {
	mfs, err := l.reg.Gather()
	require.NoError(t, err, "connwatch: Gather")
	return mfs
}

// loopback returns a TCP listener on 127.0.0.1, closed at cleanup.
func loopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "Listen")
	t.Cleanup(func() { ln.Close() })
	return ln
}

// run is the number of this test run (go test -count=N): go-conntrack's
// counters are global, so each run uses names of its own, with suffix.
var (
	runMu  sync.Mutex
	runs   = map[string]int{}
	suffix string
)

// startRun picks the name suffix for the test t.
func startRun(t *testing.T) {
	runMu.Lock()
	defer runMu.Unlock()
	runs[t.Name()]++
	suffix = ""
	if n := runs[t.Name()]; n > 1 {
		suffix = fmt.Sprintf("~%d", n)
	}
}

// named returns name with the run's suffix.
func named(name string) string { return name + suffix }

// scenario runs body through both libraries and returns the values of
// go-conntrack's families, for the names body used, where they differ.
func scenario(t *testing.T, names []string, body func(t *testing.T, l lib)) []diff {
	t.Helper()
	startRun(t)
	cw := newConnwatch(t)
	// Not subtests: a body's t.Cleanup runs after the gathering below.
	body(t, conntrackLib{})
	body(t, cw)
	want, got := series(t, conntrackLib{}.gather(t), names), series(t, cw.gather(t), names)

	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var diffs []diff
	for _, k := range keys {
		a, b := value(want, k), value(got, k)
		if a != b {
			diffs = append(diffs, diff{k, a, b})
		}
	}
	if len(want) == 0 {
		t.Fatal("go-conntrack exported no series: the scenario checks nothing")
	}
	return diffs
}

func value(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return "-"
}

// series returns the series of go-conntrack's families whose name label
// is one of names, as `family{labels}` -> value, with the run's suffix
// removed. It also checks that each of those families is a counter.
func series(t *testing.T, mfs []*dto.MetricFamily, names []string) map[string]string {
	t.Helper()
	keep := map[string]bool{}
	for _, n := range names {
		keep[named(n)] = true
	}
	out := map[string]string{}
	for _, mf := range mfs {
		if !families[mf.GetName()] {
			continue
		}
		require.Equal(t, dto.MetricType_COUNTER, mf.GetType(), "%s: type", mf.GetName())
		for _, m := range mf.GetMetric() {
			var labels []string
			match := false
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				if strings.HasSuffix(l.GetName(), "_name") {
					match = keep[v]
					v = strings.TrimSuffix(v, suffix)
				}
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), v))
			}
			if match {
				out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = fmt.Sprint(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

// serve accepts on ln until it closes; each conn is read to EOF and
// closed, closeTwice of them twice. It returns a function that waits until
// want conns were accepted (a dialed conn may wait in the kernel's backlog
// after its dial returned), closes ln and waits for every conn to be closed.
func serve(t *testing.T, ln net.Listener, closeTwice int) (stop func(want int)) {
	var wg sync.WaitGroup
	accepted := make(chan struct{}, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(io.Discard, c)
				c.Close()
				if i < closeTwice {
					c.Close()
				}
			}()
			accepted <- struct{}{}
		}
	}()
	return func(want int) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for range want {
			select {
			case <-accepted:
			case <-timeout:
				t.Errorf("serve: fewer than %d conns accepted in 10s", want)
			}
		}
		ln.Close()
		<-done
		wg.Wait()
	}
}

// exchange dials addr with dial, writes a byte and closes, twice if
// closeTwice. The server's end closes after; serve's stop waits for it.
func exchange(t *testing.T, dial dialer.DialFunc, ctx context.Context, addr string, closeTwice bool) {
	t.Helper()
	c, err := dial(ctx, "tcp", addr)
	require.NoError(t, err, "dial %s", addr)
	_, err = c.Write([]byte{1})
	require.NoError(t, err, "write")
	c.Close()
	if closeTwice {
		c.Close()
	}
}

// Regression: connwatch's listener series appeared only at the first
// accept, go-conntrack's at NewListener.
func TestListenerRegistered(t *testing.T) {
	diffs := scenario(t, []string{"idle"}, func(t *testing.T, l lib) {
		l.listen(t, named("idle"))
	})
	assert.Empty(t, diffs, "a listener with no conns yet")
}

func TestListenerConns(t *testing.T) {
	diffs := scenario(t, []string{"api"}, func(t *testing.T, l lib) {
		ln := l.listen(t, named("api"))
		stop := serve(t, ln, 1)
		var nd net.Dialer
		for range 3 {
			exchange(t, nd.DialContext, context.Background(), ln.Addr().String(), false)
		}
		stop(3)
	})
	assert.Equal(t, []diff{secondCloseListener}, diffs, "3 conns, one closed twice by the server")
}

// Regression: connwatch exported attempted and failed only at the first
// dial, go-conntrack at NewDialContextFunc.
func TestDialerRegistered(t *testing.T) {
	diffs := scenario(t, []string{"idle-dialer"}, func(t *testing.T, l lib) {
		var nd net.Dialer
		l.dialer(named("idle-dialer"), nd.DialContext)
	})
	assert.Empty(t, diffs, "a dialer with no dials yet")
}

func TestDialerConns(t *testing.T) {
	diffs := scenario(t, []string{"backend"}, func(t *testing.T, l lib) {
		ln := loopback(t)
		stop := serve(t, ln, 0)
		var nd net.Dialer
		dial := l.dialer(named("backend"), nd.DialContext)
		exchange(t, dial, context.Background(), ln.Addr().String(), true)
		exchange(t, dial, context.Background(), ln.Addr().String(), false)
		stop(2)
	})
	assert.Equal(t, []diff{secondCloseDialer}, diffs, "2 conns, one closed twice by the client")
}

// Regression: connwatch counted attempted from finished dials, so a dial
// in flight did not show.
func TestDialInFlight(t *testing.T) {
	diffs := scenario(t, []string{"slow"}, func(t *testing.T, l lib) {
		ln := loopback(t)
		stop := serve(t, ln, 0)
		defer stop(0)
		entered, release := make(chan struct{}), make(chan struct{})
		var nd net.Dialer
		dial := l.dialer(named("slow"), func(ctx context.Context, network, addr string) (net.Conn, error) {
			close(entered)
			<-release
			return nd.DialContext(ctx, network, addr)
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := dial(context.Background(), "tcp", ln.Addr().String())
			if err == nil {
				c.Close()
			}
		}()
		<-entered
		t.Cleanup(func() { close(release); <-done })
	})
	// Both gathered while the dials wait in the dial function.
	assert.Empty(t, diffs, "a dial in flight: attempted 1, established 0, failed 0")
}

// TestDialFailures runs one kind of failed dial per dialer name.
func TestDialFailures(t *testing.T) {
	refused := refusedAddr(t)
	opErr := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	var nd net.Dialer
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		dial dialer.DialFunc // nil: a net.Dialer
		want []diff
	}{
		{name: "refused", want: []diff{refusedAlsoUnknown}},
		{name: "deadline", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		}, want: []diff{deadlineAlsoUnknown}},
		{name: "canceled", ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}},
		{name: "etimedout", dial: fail(opErr(os.NewSyscallError("connect", syscall.ETIMEDOUT))), want: etimedoutUnknown},
		{name: "wrapped", dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, err := nd.DialContext(ctx, network, addr)
			return nil, fmt.Errorf("proxy: dial upstream: %w", err)
		}, want: wrappedUnknown},
		{name: "dns", dial: fail(opErr(&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}))},
		{name: "bare-deadline", dial: fail(context.DeadlineExceeded)},
		{name: "bare-canceled", dial: fail(context.Canceled), want: bareCanceledTimeout},
		{name: "unreachable", dial: fail(opErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH)))},
		{name: "other", dial: fail(errors.New("test: broken"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := scenario(t, []string{tc.name}, func(t *testing.T, l lib) {
				dial := tc.dial
				if dial == nil {
					dial = nd.DialContext
				}
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if tc.ctx != nil {
					ctx, cancel = tc.ctx()
				}
				defer cancel()
				_, err := l.dialer(named(tc.name), dial)(ctx, "tcp", refused)
				require.Error(t, err, "the dial must fail")
			})
			assert.Equal(t, tc.want, diffs, "differences")
		})
	}
}

// Per-call names: go-conntrack's DialNameToContext, connwatch's
// dialer.WithName.
func TestPerCallName(t *testing.T) {
	diffs := scenario(t, []string{"base", "percall"}, func(t *testing.T, l lib) {
		ln := loopback(t)
		stop := serve(t, ln, 0)
		var nd net.Dialer
		dial := l.dialer(named("base"), nd.DialContext)
		exchange(t, dial, l.withName(context.Background(), named("percall")), ln.Addr().String(), false)
		stop(1)
	})
	assert.Equal(t, perCallZeroReasons, diffs, "one conn under a per-call name")
}

// fail returns a dial function that fails with err.
func fail(err error) dialer.DialFunc {
	return func(context.Context, string, string) (net.Conn, error) { return nil, err }
}

// refusedAddr returns a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}
