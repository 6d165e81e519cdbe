package trackedconn_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/internal/benchcmp"
	"github.com/connwatch/connwatch/trackedconn"
)

// Scale over live sockets: DESIGN.md states Group.Probe() (< 25 ms) and the
// heap a tracked conn costs beyond the raw one (<= 400 B) over 5,000 live
// loopback connections. Both ends live in this process, so 5,000
// connections hold 10,000 descriptors; these machines allow 20,000 per
// process, which bounds what one benchmark process can hold (at most
// ~9,900 connections with both ends here). Per-conn figures (B/conn,
// ns/conn) are what to extrapolate from. Linux only: the raw baselines make
// the system calls by hand.

// liveConns is the number of live loopback connections.
const liveConns = 5_000

// livePairs holds n live loopback TCP connections: client ends dialed, server
// ends accepted, each passed through its wrap function.
type livePairs struct {
	rawClients       []*net.TCPConn
	clients, servers []net.Conn
}

// newLivePairs allocates room for n connections; open fills it. They are
// apart so that a heap measurement can start between them.
func newLivePairs(n int) *livePairs {
	return &livePairs{
		rawClients: make([]*net.TCPConn, 0, n),
		clients:    make([]net.Conn, 0, n),
		servers:    make([]net.Conn, 0, n),
	}
}

func (p *livePairs) open(b *testing.B, wrapClient, wrapServer func(net.Conn) net.Conn) {
	b.Helper()
	n := cap(p.clients)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		for range n {
			s, err := ln.Accept()
			if err != nil {
				accepted <- err
				return
			}
			p.servers = append(p.servers, wrapServer(s))
		}
		accepted <- nil
	}()
	addr := ln.Addr().String()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatalf("dial connection %d of %d: %v (each holds 2 of the process's descriptors)", len(p.clients)+1, n, err)
		}
		p.rawClients = append(p.rawClients, c.(*net.TCPConn))
		p.clients = append(p.clients, wrapClient(c))
	}
	if err := <-accepted; err != nil {
		b.Fatal(err)
	}
}

// close closes every conn, the client ends first.
func (p *livePairs) close() {
	for _, c := range p.clients {
		c.Close()
	}
	for _, s := range p.servers {
		s.Close()
	}
	p.rawClients, p.clients, p.servers = p.rawClients[:0], p.clients[:0], p.servers[:0]
}

// BenchmarkLiveHeap reports the Go heap held per conn (B/conn: one end of a
// connection) with 5,000 live loopback connections, both ends raw
// (impl=raw) or both ends tracked in a Group (impl=tracked), measured after
// a full GC. impl=tracked also reports B/conn-probed: after a Group.Probe(),
// when every conn holds the prober that later probes reuse. Kernel memory
// (socket buffers, the descriptor table) is not Go heap and is the same for
// both. DESIGN.md: tracked at most 400 B more than raw.
func BenchmarkLiveHeap(b *testing.B) {
	for _, impl := range []string{"raw", "tracked"} {
		b.Run("impl="+impl, func(b *testing.B) {
			var sum, sumProbed float64
			rounds := 0
			for b.Loop() {
				var g trackedconn.Group
				wrap := benchRaw
				if impl == "tracked" {
					opt := trackedconn.Options(trackedconn.WithGroup(&g))
					wrap = func(c net.Conn) net.Conn { return trackedconn.Wrap(c, opt) }
				}
				p := newLivePairs(liveConns)
				before := benchcmp.HeapAfterGC()
				p.open(b, wrap, wrap)
				after := benchcmp.HeapAfterGC()
				sum += float64(after-before) / (2 * liveConns)
				if impl == "tracked" {
					if got := len(g.Probe()); got != 2*liveConns {
						b.Fatalf("len(Probe()) = %d, want %d", got, 2*liveConns)
					}
					sumProbed += float64(benchcmp.HeapAfterGC()-before) / (2 * liveConns)
				}
				rounds++
				b.StopTimer()
				p.close()
				b.StartTimer()
				runtime.KeepAlive(p)
			}
			b.ReportMetric(sum/float64(rounds), "B/conn")
			if impl == "tracked" {
				b.ReportMetric(sumProbed/float64(rounds), "B/conn-probed")
			}
		})
	}
}

// BenchmarkLiveGroup measures the Group operations over 5,000 live loopback
// conns (the client ends, tracked in one Group; the server ends are raw):
//
//	op=Conns/impl=tracked   Group.Conns()
//	op=Probe/impl=raw       the same system calls as Probe, by hand, for
//	                        each conn: getsockopt(TCP_INFO), ioctl(SIOCINQ)
//	op=Probe/impl=tracked   Group.Probe() (DESIGN.md: under 25 ms)
//	op=connz/format=F       a connz.Handler page over the Group, rendered
//	                        into memory: the probe plus the encoding
//
// ns/conn is ns/op divided by the number of conns; cpu-ns/op is the
// process's CPU time.
func BenchmarkLiveGroup(b *testing.B) {
	var g trackedconn.Group
	opt := trackedconn.Options(trackedconn.WithGroup(&g))
	p := newLivePairs(liveConns)
	p.open(b, func(c net.Conn) net.Conn { return trackedconn.Wrap(c, opt) }, benchRaw)
	defer p.close()

	run := func(name string, op func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := benchcmp.Process()
			for b.Loop() {
				op(b)
			}
			b.StopTimer()
			benchcmp.ReportCPU(b, benchcmp.Process()-cpu, 0)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/liveConns, "ns/conn")
		})
	}
	run("op=Conns/impl=tracked", func(b *testing.B) {
		if got := len(g.Conns()); got != liveConns {
			b.Fatalf("len(Conns()) = %d, want %d", got, liveConns)
		}
	})
	var (
		ti     unix.TCPInfo
		queued int
		errno  syscall.Errno
	)
	look := func(fd uintptr) {
		size := uint32(unsafe.Sizeof(ti))
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.IPPROTO_TCP, unix.TCP_INFO,
			uintptr(unsafe.Pointer(&ti)), uintptr(unsafe.Pointer(&size)), 0)
		if errno == 0 {
			_, _, errno = unix.Syscall(unix.SYS_IOCTL, fd, unix.SIOCINQ, uintptr(unsafe.Pointer(&queued)))
		}
	}
	raws := make([]syscall.RawConn, len(p.rawClients))
	for i, c := range p.rawClients {
		raws[i] = benchRawConn(b, c)
	}
	run("op=Probe/impl=raw", func(b *testing.B) {
		for _, rc := range raws {
			if err := rc.Control(look); err != nil || errno != 0 || ti.State != 1 {
				b.Fatalf("look: %v, %v, state %d", err, errno, ti.State)
			}
		}
	})
	run("op=Probe/impl=tracked", func(b *testing.B) {
		got := g.Probe()
		if len(got) != liveConns || got[0].Liveness != trackedconn.LivenessOpen {
			b.Fatalf("Probe() = %d conns, first %v; want %d open", len(got), got[0].Liveness, liveConns)
		}
	})
	h := connz.Handler(&g)
	for _, format := range []string{"json", "html", "text"} {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/?format=%s&limit=%d", format, liveConns), nil)
		run("op=connz/format="+format, func(b *testing.B) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Body.Len() < liveConns {
				b.Fatalf("connz: %d, %d bytes", rec.Code, rec.Body.Len())
			}
			b.ReportMetric(float64(rec.Body.Len()), "page-B")
		})
	}
}
