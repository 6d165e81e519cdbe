package trackedconn_test

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/benchcmp"
	"github.com/connwatch/connwatch/trackedconn"
)

// Scale: DESIGN.md asks for 100,000 live conns in a Group with Conns()
// under 100 ms, Stats() in O(1), and at most 2 allocations and 320 bytes
// per tracked conn. These benchmarks measure each; they are not comparisons,
// so they have no impl key.

// scaleConns is the number of live conns DESIGN.md's targets are stated for.
const scaleConns = 100_000

// scaleNop is a net.Conn that costs nothing and allocates nothing, so that
// what is measured is the tracking alone.
type scaleNop struct{}

func (scaleNop) Read(b []byte) (int, error)       { return len(b), nil }
func (scaleNop) Write(b []byte) (int, error)      { return len(b), nil }
func (scaleNop) Close() error                     { return nil }
func (scaleNop) LocalAddr() net.Addr              { return scaleAddr }
func (scaleNop) RemoteAddr() net.Addr             { return scaleAddr }
func (scaleNop) SetDeadline(time.Time) error      { return nil }
func (scaleNop) SetReadDeadline(time.Time) error  { return nil }
func (scaleNop) SetWriteDeadline(time.Time) error { return nil }

var scaleAddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 9}

// openScale fills conns with tracked no-op conns wrapped with opt.
func openScale(conns []*trackedconn.Conn, opt trackedconn.Option) {
	for i := range conns {
		conns[i] = trackedconn.Wrap(scaleNop{}, opt)
	}
}

func closeScale(tb testing.TB, conns []*trackedconn.Conn) {
	for _, c := range conns {
		if err := c.Close(); err != nil {
			tb.Fatalf("Close() = %v", err)
		}
	}
}

// BenchmarkScaleMemory reports the heap held per tracked conn live in a
// Group (B/conn, from runtime.MemStats.HeapAlloc after a GC) and the
// allocations per Wrap (allocs/conn). ns/op is the time to wrap 100,000
// conns. DESIGN.md: at most 320 bytes and 2 allocations.
func BenchmarkScaleMemory(b *testing.B) {
	var g trackedconn.Group
	opt := trackedconn.Options(trackedconn.WithGroup(&g), trackedconn.WithName("scale"))
	conns := make([]*trackedconn.Conn, scaleConns)
	var before, after runtime.MemStats
	var bytes, mallocs, rounds uint64
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		openScale(conns, opt)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		bytes += after.HeapAlloc - before.HeapAlloc
		mallocs += after.Mallocs - before.Mallocs
		rounds++
		closeScale(b, conns)
		clear(conns)
		b.StartTimer()
	}
	b.ReportMetric(float64(bytes)/float64(rounds*scaleConns), "B/conn")
	b.ReportMetric(float64(mallocs)/float64(rounds*scaleConns), "allocs/conn")
}

// scaleSizes are the live-set sizes that show whether a Group operation
// depends on the number of conns.
var scaleSizes = []int{1_000, scaleConns}

// BenchmarkScaleConns measures Group.Conns() with 1,000 and 100,000 live
// conns. DESIGN.md: under 100 ms for 100,000.
func BenchmarkScaleConns(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			var g trackedconn.Group
			conns := make([]*trackedconn.Conn, n)
			openScale(conns, trackedconn.Options(trackedconn.WithGroup(&g)))
			b.ReportAllocs()
			cpu := benchcmp.Process()
			for b.Loop() {
				if got := g.Conns(); len(got) != n {
					b.Fatalf("len(Conns()) = %d, want %d", len(got), n)
				}
			}
			benchcmp.ReportCPU(b, benchcmp.Process()-cpu, 0)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/conn")
			b.StopTimer()
			closeScale(b, conns)
		})
	}
}

// BenchmarkScaleStats measures Group.Stats() with 1,000 and 100,000 live
// conns: DESIGN.md wants it O(1), the same ns/op at both sizes.
func BenchmarkScaleStats(b *testing.B) {
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("conns=%d", n), func(b *testing.B) {
			var g trackedconn.Group
			conns := make([]*trackedconn.Conn, n)
			openScale(conns, trackedconn.Options(trackedconn.WithGroup(&g)))
			b.ReportAllocs()
			for b.Loop() {
				if st := g.Stats(); st.Active != uint64(n) {
					b.Fatalf("Stats().Active = %d, want %d", st.Active, n)
				}
			}
			b.StopTimer()
			closeScale(b, conns)
		})
	}
}

// BenchmarkScaleOpenClose measures Wrap+Close of conns in one Group from 1,
// 2 and 8 goroutines at once, as conns/s (all goroutines together).
func BenchmarkScaleOpenClose(b *testing.B) {
	for _, workers := range []int{1, 2, 8} {
		b.Run(fmt.Sprintf("goroutines=%d", workers), func(b *testing.B) {
			var g trackedconn.Group
			opt := trackedconn.Options(trackedconn.WithGroup(&g), trackedconn.WithName("scale"))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := benchcmp.Process()
			var wg sync.WaitGroup
			for w := range workers {
				n := b.N / workers
				if w < b.N%workers {
					n++
				}
				wg.Go(func() {
					for range n {
						trackedconn.Wrap(scaleNop{}, opt).Close()
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			benchcmp.ReportCPU(b, benchcmp.Process()-cpu, 0)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
			if st := g.Stats(); st.Opened != uint64(b.N) || st.Active != 0 || st.Closed != uint64(b.N) {
				b.Fatalf("Stats() = %+v after %d Wrap+Close", st, b.N)
			}
		})
	}
}

// TestScale100k lists and closes 100,000 conns live in one Group and checks
// the counts on the way. It times nothing: the targets are benchmarks.
func TestScale100k(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 conns: skipped with -short")
	}
	var g trackedconn.Group
	conns := make([]*trackedconn.Conn, scaleConns)
	openScale(conns, trackedconn.Options(trackedconn.WithGroup(&g), trackedconn.WithName("scale")))

	require.Equal(t, trackedconn.Stats{Opened: scaleConns, Active: scaleConns}, g.Stats(), "Stats() with every conn open")
	requireLive(t, &g, conns, "every conn open")

	// Close every other conn, so that the list loses members inside,
	// at the head and at the tail.
	var odd, even []*trackedconn.Conn
	for i, c := range conns {
		if i%2 == 0 {
			even = append(even, c)
		} else {
			odd = append(odd, c)
		}
	}
	closeScale(t, even)
	require.Equal(t, trackedconn.Stats{Opened: scaleConns, Active: scaleConns / 2, Closed: scaleConns / 2}, g.Stats(), "Stats() with half the conns closed")
	requireLive(t, &g, odd, "half the conns closed")

	closeScale(t, odd)
	require.Equal(t, trackedconn.Stats{Opened: scaleConns, Closed: scaleConns}, g.Stats(), "Stats() with every conn closed")
	require.Empty(t, g.Conns(), "Conns() with every conn closed")
	for _, c := range conns {
		if !c.IsClosed() {
			t.Fatalf("conn %d: IsClosed() = false after Close", c.ID())
		}
	}
}

// requireLive requires g.Conns() to be exactly the states of want, oldest
// first.
func requireLive(t *testing.T, g *trackedconn.Group, want []*trackedconn.Conn, when string) {
	t.Helper()
	got := g.Conns()
	require.Len(t, got, len(want), "len(Conns()) with %s", when)
	for i, s := range got {
		if s.ID != want[i].ID() || s.Closed || s.Name != "scale" {
			t.Fatalf("Conns()[%d] = conn %d (Closed %v, Name %q), want open conn %d named scale, with %s",
				i, s.ID, s.Closed, s.Name, want[i].ID(), when)
		}
	}
}
