package trackedconn_test

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkPingPong64 sends 64 bytes over loopback TCP and waits for the
// echo; both ends are tracked in impl=tracked.
func BenchmarkPingPong64(b *testing.B) {
	benchImpls(b, func(b *testing.B, wrap func(net.Conn) net.Conn) {
		cr, sr := benchTCPPair(b)
		client, server := wrap(cr), wrap(sr)
		echoed := make(chan struct{})
		go func() {
			defer close(echoed)
			buf := make([]byte, 64)
			for {
				if _, err := io.ReadFull(server, buf); err != nil {
					return
				}
				if _, err := server.Write(buf); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 64)
		b.SetBytes(64)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(client, buf); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		client.Close()
		<-echoed
		server.Close()
	})
}

const benchBulk = 16 << 20

// BenchmarkSendfile copies a 16 MiB file into a loopback TCP conn with
// io.Copy (sendfile on Linux); a raw conn drains the other end.
func BenchmarkSendfile(b *testing.B) {
	name := filepath.Join(b.TempDir(), "bulk")
	if err := os.WriteFile(name, make([]byte, benchBulk), 0o600); err != nil {
		b.Fatal(err)
	}
	benchImpls(b, func(b *testing.B, wrap func(net.Conn) net.Conn) {
		cr, sink := benchTCPPair(b)
		conn := wrap(cr)
		drained := benchDrain(sink)
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		b.SetBytes(benchBulk)
		for b.Loop() {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(conn, f); err != nil || n != benchBulk {
				b.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, benchBulk)
			}
		}
		b.StopTimer()
		conn.Close()
		<-drained
	})
}

// BenchmarkSplice relays 16 MiB per op from one loopback TCP conn to
// another with io.CopyN (splice on Linux), as a proxy does; both relay ends
// are tracked in impl=tracked.
func BenchmarkSplice(b *testing.B) {
	benchImpls(b, func(b *testing.B, wrap func(net.Conn) net.Conn) {
		feed, inRaw := benchTCPPair(b)
		outRaw, sink := benchTCPPair(b)
		in, out := wrap(inRaw), wrap(outRaw)
		drained := benchDrain(sink)
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			buf := make([]byte, 256<<10)
			for {
				if _, err := feed.Write(buf); err != nil {
					return
				}
			}
		}()
		b.SetBytes(benchBulk)
		for b.Loop() {
			if n, err := io.CopyN(out, in, benchBulk); err != nil || n != benchBulk {
				b.Fatalf("io.CopyN = %d, %v; want %d, nil", n, err, benchBulk)
			}
		}
		b.StopTimer()
		in.Close()
		feed.Close()
		<-fed
		out.Close()
		<-drained
	})
}

// benchDrain reads c until EOF in the background, then closes it.
func benchDrain(c net.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(io.Discard, c)
		c.Close()
	}()
	return done
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
