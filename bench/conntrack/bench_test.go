package conntrackbench_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	conntrack "github.com/mwitkow/go-conntrack"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/internal/benchcmp"
	"github.com/connwatch/connwatch/listener"
)

type dialFunc = func(ctx context.Context, network, address string) (net.Conn, error)

// An impl is one way to get tracked conns: it wraps a listener and makes a
// dial function, as a program adopting it would.
type impl struct {
	name   string
	listen func(net.Listener) net.Listener
	dialer func() dialFunc
}

// impls are compared in this order; raw comes first, as scripts/bench.sh
// wants.
var impls = []impl{
	{
		name:   "raw",
		listen: func(l net.Listener) net.Listener { return l },
		dialer: func() dialFunc { return (&net.Dialer{}).DialContext },
	},
	{
		name:   "conntrack",
		listen: func(l net.Listener) net.Listener { return conntrack.NewListener(l) },
		dialer: func() dialFunc { return conntrack.NewDialContextFunc() },
	},
	{
		name:   "tracked",
		listen: func(l net.Listener) net.Listener { return listener.Wrap(l) },
		dialer: func() dialFunc { return dialer.New().DialContext },
	},
}

// listen opens a loopback listener wrapped by im.
func listen(b *testing.B, im impl) net.Listener {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	return im.listen(ln)
}

// pair returns a client end dialed and a server end accepted through im.
func pair(b *testing.B, im impl) (client, server net.Conn) {
	b.Helper()
	ln := listen(b, im)
	defer ln.Close()
	return dialAccept(b, ln, im.dialer())
}

func dialAccept(b *testing.B, ln net.Listener, dial dialFunc) (client, server net.Conn) {
	b.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			b.Error(err)
		}
		accepted <- s
	}()
	client, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		b.FailNow()
	}
	return client, server
}

// A scenario sets up one workload through im and returns one operation of
// it and the function that tears it down.
type scenario = func(b *testing.B, im impl) (op func(), stop func())

// compare runs a scenario once per impl (impl=raw, impl=conntrack,
// impl=tracked), then, with round > 0, as impl=interleaved: all three side
// by side in rotating rounds of round ops, reporting the median per-round
// ratios to raw (benchcmp.Compare).
func compare(b *testing.B, bytes int64, round int, sc scenario) {
	benchcmp.Compare(b, contenders(), bytes, round, sc)
}

// contenders returns impls as benchcmp contenders, raw first.
func contenders() []benchcmp.Contender[impl] {
	cs := make([]benchcmp.Contender[impl], len(impls))
	for i, im := range impls {
		cs[i] = benchcmp.Contender[impl]{Name: im.name, Impl: im}
	}
	return cs
}

// BenchmarkPingPong64 sends 64 bytes over loopback TCP and waits for the
// echo; the client end is dialed and the server end accepted through the
// impl.
func BenchmarkPingPong64(b *testing.B) {
	compare(b, 64, 200, func(b *testing.B, im impl) (func(), func()) {
		client, server := pair(b, im)
		return benchcmp.PingPong(b, client, server, 64)
	})
}

// BenchmarkChurn is one conn's life over loopback TCP through the impl's
// listener and dialer: dial, accept, close the client end, then the
// server end (so TIME_WAIT stays with the dialer).
func BenchmarkChurn(b *testing.B) {
	compare(b, 0, 100, func(b *testing.B, im impl) (func(), func()) {
		ln := listen(b, im)
		dial := im.dialer()
		addr := ln.Addr().String()
		accepted := make(chan net.Conn, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(accepted)
			for {
				s, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- s
			}
		}()
		op := func() {
			c, err := dial(context.Background(), "tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			s := <-accepted
			if s == nil {
				b.Fatal("accept loop ended")
			}
			c.Close()
			s.Close()
		}
		return op, func() {
			ln.Close()
			<-done
		}
	})
}

const bulk = 16 << 20

// A bulkScenario prepares one bulk copy over new loopback connections made
// through im, and returns the copy, which runs until the receiving end has
// read every byte.
type bulkScenario = func(b *testing.B, im impl) (copy func())

// compareBulk runs a bulk scenario once per impl and as impl=interleaved,
// one copy of each impl in turn (benchcmp.CompareBulk).
func compareBulk(b *testing.B, bytes int64, sc bulkScenario) {
	benchcmp.CompareBulk(b, contenders(), bytes, sc)
}

// BenchmarkFileSend copies a 16 MiB file into a conn dialed through the
// impl with io.Copy, as a file server does (sendfile when the conn lets
// io.Copy see the socket); the other end, accepted through the impl,
// drains it.
func BenchmarkFileSend(b *testing.B) {
	name := filepath.Join(b.TempDir(), "bulk")
	if err := os.WriteFile(name, make([]byte, bulk), 0o600); err != nil {
		b.Fatal(err)
	}
	compareBulk(b, bulk, func(b *testing.B, im impl) func() {
		conn, sink := pair(b, im)
		return benchcmp.SendFile(b, name, bulk, conn, sink)
	})
}

// BenchmarkSplice relays 16 MiB per op with io.CopyN from a conn accepted
// through the impl to a conn dialed through it, as a proxy does (splice
// when the conns let io.Copy see the sockets).
func BenchmarkSplice(b *testing.B) {
	compareBulk(b, bulk, func(b *testing.B, im impl) func() {
		feed, in := pair(b, im)
		out, sink := pair(b, im)
		return benchcmp.Relay(b, bulk, feed, in, out, sink)
	})
}

// heapConns is how many live connections BenchmarkHeap holds: 10,000
// descriptors, half the 20,000 these machines allow a process.
const heapConns = 5_000

// BenchmarkHeap reports the Go heap held per conn (B/conn; a conn is one
// end of a connection) with 5,000 live loopback connections, both ends
// through the impl (dialed and accepted), after a full GC. Kernel memory is
// not counted; it is the same for all three.
func BenchmarkHeap(b *testing.B) {
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			var sum float64
			rounds := 0
			for b.Loop() {
				clients := make([]net.Conn, 0, heapConns)
				servers := make([]net.Conn, 0, heapConns)
				ln := listen(b, im)
				dial := im.dialer()
				accepted := make(chan error, 1)
				before := benchcmp.HeapAfterGC()
				go func() {
					for range heapConns {
						s, err := ln.Accept()
						if err != nil {
							accepted <- err
							return
						}
						servers = append(servers, s)
					}
					accepted <- nil
				}()
				for i := range heapConns {
					c, err := dial(context.Background(), "tcp", ln.Addr().String())
					if err != nil {
						b.Fatalf("dial %d of %d: %v", i+1, heapConns, err)
					}
					clients = append(clients, c)
				}
				if err := <-accepted; err != nil {
					b.Fatal(err)
				}
				sum += float64(benchcmp.HeapAfterGC()-before) / (2 * heapConns)
				rounds++
				b.StopTimer()
				for _, c := range clients {
					c.Close()
				}
				for _, s := range servers {
					s.Close()
				}
				ln.Close()
				b.StartTimer()
			}
			b.ReportMetric(sum/float64(rounds), "B/conn")
		})
	}
}

// TestImpls checks the premise of the comparison on one connection per
// impl, quickly: bytes flow both ways through each, and only go-conntrack
// hides the io.ReaderFrom that lets io.Copy hand a file or a socket to the
// kernel.
func TestImpls(t *testing.T) {
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			wl := im.listen(ln)
			defer wl.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				s, _ := wl.Accept()
				accepted <- s
			}()
			c, err := im.dialer()(context.Background(), "tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s := <-accepted
			if s == nil {
				t.Fatal("accept failed")
			}
			defer s.Close()
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 4)
			if _, err := io.ReadFull(s, got); err != nil || string(got) != "ping" {
				t.Fatalf("server read %q, %v; want ping", got, err)
			}
			_, readFrom := c.(io.ReaderFrom)
			if want := im.name != "conntrack"; readFrom != want {
				t.Errorf("%s dialed conn %T: io.ReaderFrom = %v, want %v", im.name, c, readFrom, want)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := s.Read(got); !errors.Is(err, io.EOF) {
				t.Errorf("server Read after the client closed: %v, want EOF", err)
			}
		})
	}
}
