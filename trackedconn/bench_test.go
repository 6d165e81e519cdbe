package trackedconn_test

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/connwatch/connwatch/internal/benchcmp"
	"github.com/connwatch/connwatch/internal/testcert"
	"github.com/connwatch/connwatch/trackedconn"
)

// Benchmarks come in pairs, impl=raw and impl=tracked, run in the same
// process so that `make bench` (benchstat -col /impl) compares them.

// benchNop is a net.Conn that moves every byte instantly.
type benchNop struct{}

func (benchNop) Read(b []byte) (int, error)         { return len(b), nil }
func (benchNop) Write(b []byte) (int, error)        { return len(b), nil }
func (benchNop) Close() error                       { return nil }
func (benchNop) LocalAddr() net.Addr                { return benchAddr }
func (benchNop) RemoteAddr() net.Addr               { return benchAddr }
func (benchNop) SetDeadline(t time.Time) error      { return nil }
func (benchNop) SetReadDeadline(t time.Time) error  { return nil }
func (benchNop) SetWriteDeadline(t time.Time) error { return nil }

var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

func benchImpls(b *testing.B, f func(b *testing.B, wrap func(net.Conn) net.Conn)) {
	b.Run("impl=raw", func(b *testing.B) { f(b, func(c net.Conn) net.Conn { return c }) })
	b.Run("impl=tracked", func(b *testing.B) {
		f(b, func(c net.Conn) net.Conn { return trackedconn.Wrap(c) })
	})
}

// BenchmarkNopIO measures what tracking adds to a Read plus a Write on a
// conn that costs nothing. impl=clock is the monotonic clock read that
// DESIGN.md allows on top (time.Since of a base time).
func BenchmarkNopIO(b *testing.B) {
	buf := make([]byte, 64)
	benchImpls(b, func(b *testing.B, wrap func(net.Conn) net.Conn) {
		c := wrap(benchNop{})
		b.ReportAllocs()
		for b.Loop() {
			c.Read(buf)
			c.Write(buf)
		}
	})
	b.Run("impl=clock", func(b *testing.B) {
		base := time.Now()
		var sink time.Duration
		for b.Loop() {
			sink += time.Since(base)
			sink += time.Since(base)
		}
		_ = sink
	})
}

// benchTCPPair returns both ends of a loopback TCP connection.
func benchTCPPair(b *testing.B) (client, server net.Conn) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			b.Error(err)
		}
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server = <-done
	if server == nil {
		b.FailNow()
	}
	return client, server
}

// A benchScenario sets up one workload over conns passed through wrap and
// returns one operation of it and the function that tears it down.
type benchScenario = func(b *testing.B, wrap func(net.Conn) net.Conn) (op func(), stop func())

var (
	benchRaw     = func(c net.Conn) net.Conn { return c }
	benchTracked = func(c net.Conn) net.Conn { return trackedconn.Wrap(c) }
	// benchRawTracked are the contenders of benchCompare and
	// benchBulkCompare: raw conns, the baseline, and tracked ones.
	benchRawTracked = []benchImpl{{Name: "raw", Impl: benchRaw}, {Name: "tracked", Impl: benchTracked}}
)

// A benchImpl passes the conns of a scenario through its wrap function.
type benchImpl = benchcmp.Contender[func(net.Conn) net.Conn]

// benchCompare runs a scenario as impl=raw and impl=tracked, and with
// round > 0 as impl=interleaved: both side by side in alternating rounds
// of round ops, reporting the median per-round tracked/raw ratios of wall
// and CPU time (DESIGN.md's way of comparing on a noisy machine). See
// benchcmp.Compare.
func benchCompare(b *testing.B, bytes int64, round int, scenario benchScenario) {
	benchcmp.Compare(b, benchRawTracked, bytes, round, scenario)
}

// pingPong64 sends 64 bytes over loopback TCP and waits for the echo.
func pingPong64(b *testing.B, wrap func(net.Conn) net.Conn) (func(), func()) {
	cr, sr := benchTCPPair(b)
	return benchcmp.PingPong(b, wrap(cr), wrap(sr), 64)
}

// BenchmarkPingPong64 sends 64 bytes over loopback TCP and waits for the
// echo; both ends are tracked in impl=tracked. DESIGN.md: tracked/raw
// latency <= 1.03.
func BenchmarkPingPong64(b *testing.B) {
	benchCompare(b, 64, 200, pingPong64)
}

// BenchmarkInterleaveBias runs the interleaved ping-pong with raw conns on
// both sides: its tracked/raw figure is the noise floor of the method.
func BenchmarkInterleaveBias(b *testing.B) {
	impls := []benchImpl{{Name: "raw", Impl: benchRaw}, {Name: "tracked", Impl: benchRaw}}
	benchcmp.Interleave(b, impls, 200, pingPong64)
}

const benchBulk = 16 << 20

// A benchBulkScenario prepares one bulk copy over a new loopback
// connection whose sending end is passed through wrap, and returns the copy,
// which runs until the receiving end has read every byte.
type benchBulkScenario = func(b *testing.B, wrap func(net.Conn) net.Conn) (copy func())

// benchBulkCompare runs a bulk scenario as impl=raw, impl=tracked and
// impl=interleaved (one raw and one tracked copy in turn): see
// benchcmp.CompareBulk.
func benchBulkCompare(b *testing.B, bytes int64, sc benchBulkScenario) {
	benchcmp.CompareBulk(b, benchRawTracked, bytes, sc)
}

// BenchmarkSendfile copies a 16 MiB file into a loopback TCP conn with
// io.Copy (sendfile on Linux); a raw conn drains the other end. DESIGN.md:
// the same system calls as raw, and CPU per byte (cpu-ns/B) within 2% of
// raw.
func BenchmarkSendfile(b *testing.B) {
	name := filepath.Join(b.TempDir(), "bulk")
	if err := os.WriteFile(name, make([]byte, benchBulk), 0o600); err != nil {
		b.Fatal(err)
	}
	benchBulkCompare(b, benchBulk, func(b *testing.B, wrap func(net.Conn) net.Conn) func() {
		cr, sink := benchTCPPair(b)
		return benchcmp.SendFile(b, name, benchBulk, wrap(cr), sink)
	})
}

// BenchmarkSplice relays 16 MiB per op from one loopback TCP conn to
// another with io.CopyN (splice on Linux), as a proxy does; both relay ends
// are tracked in impl=tracked. A raw feeder writes the 16 MiB and a raw
// sink drains them. DESIGN.md: the same system calls as raw, and CPU per
// byte within 2% of raw.
func BenchmarkSplice(b *testing.B) {
	benchBulkCompare(b, benchBulk, func(b *testing.B, wrap func(net.Conn) net.Conn) func() {
		feed, inRaw := benchTCPPair(b)
		outRaw, sink := benchTCPPair(b)
		return benchcmp.Relay(b, benchBulk, feed, wrap(inRaw), wrap(outRaw), sink)
	})
}

// BenchmarkWrap measures the cost of tracking one conn; DESIGN.md allows
// 2 allocations and 320 bytes.
func BenchmarkWrap(b *testing.B) {
	b.Run("impl=tracked", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			trackedconn.Wrap(benchNop{})
		}
	})
	b.Run("impl=grouped", func(b *testing.B) {
		var g trackedconn.Group
		opt := trackedconn.Options(trackedconn.WithGroup(&g), trackedconn.WithName("bench"))
		b.ReportAllocs()
		for b.Loop() {
			trackedconn.Wrap(benchNop{}, opt).Close()
		}
	})
}

// benchTLSBulk is what one op of BenchmarkTLSCopy moves.
const benchTLSBulk = 16 << 20

// BenchmarkTLSCopy copies 16 MiB with io.Copy into a TLS client conn over
// loopback TCP, as an HTTPS client uploading a body does, and a raw TLS
// server drains the other end. layer=under tracks the TCP conn beneath TLS
// (tls.Client(Wrap(tcp)): what listener.Wrap and dialer.New give a TLS
// stack); layer=over tracks the TLS conn itself (Wrap(tls.Client(tcp))).
// Every byte passes through a tracked Write in TLS records (no kernel copy
// is possible), so this is the per-call cost of tracking on a bulk path;
// cpu-ns/B is the figure to compare. The handshake is part of the
// unmeasured set-up.
func BenchmarkTLSCopy(b *testing.B) {
	serverConf, clientConf, err := testcert.Configs()
	if err != nil {
		b.Fatal(err)
	}
	clientConf = clientConf.Clone()
	clientConf.ServerName = "127.0.0.1"
	for _, over := range []bool{false, true} {
		name := "layer=under"
		if over {
			name = "layer=over"
		}
		b.Run(name, func(b *testing.B) {
			benchBulkCompare(b, benchTLSBulk, func(b *testing.B, wrap func(net.Conn) net.Conn) func() {
				cr, sr := benchTCPPair(b)
				var client net.Conn
				tc := tls.Client(cr, clientConf)
				if over {
					client = wrap(tc)
				} else {
					tc = tls.Client(wrap(cr), clientConf)
					client = tc
				}
				server := tls.Server(sr, serverConf)
				handshook := make(chan error, 1)
				go func() { handshook <- server.Handshake() }()
				if err := tc.Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-handshook; err != nil {
					b.Fatal(err)
				}
				drained := benchcmp.Drain(server)
				return func() {
					src := &io.LimitedReader{R: benchZeros{}, N: benchTLSBulk}
					if n, err := io.Copy(client, src); err != nil || n != benchTLSBulk {
						b.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, benchTLSBulk)
					}
					client.Close()
					<-drained
				}
			})
		})
	}
}

// benchZeros reads zeros, at no cost.
type benchZeros struct{}

func (benchZeros) Read(p []byte) (int, error) { return len(p), nil }
