package connz_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/connwatch/connwatch/connz"
	"github.com/connwatch/connwatch/trackedconn"
)

// fixed is a Source with a fixed set of conns, to measure the rendering
// alone.
type fixed []trackedconn.Probed

func (f fixed) Probe() []trackedconn.Probed { return f }
func (f fixed) Stats() trackedconn.Stats {
	return trackedconn.Stats{Opened: uint64(len(f)), Active: uint64(len(f))}
}

// conns makes n conns that look like a busy server's.
func conns(n int) fixed {
	now := time.Now()
	out := make(fixed, n)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	for i := range out {
		lv := trackedconn.LivenessOpen
		if i%50 == 0 {
			lv = trackedconn.LivenessStalled
		}
		out[i] = trackedconn.Probed{
			State: trackedconn.State{
				ID: uint64(i + 1), Name: "api", Side: trackedconn.SideServer,
				LocalAddr:  local,
				RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, byte(i>>8), byte(i)), Port: 40000 + i%20000},
				OpenedAt:   now.Add(-time.Duration(n-i) * time.Second),
				LastReadAt: now.Add(-time.Duration(i%600) * time.Second),
				BytesRead:  int64(i) * 1234, BytesWritten: int64(i) * 98765,
				PeerClosed: i%97 == 0,
			},
			Liveness: lv,
			TCP: &trackedconn.TCPInfo{
				State: "established", RTT: time.Duration(50+i%400) * time.Microsecond,
				RTO: 200 * time.Millisecond, TotalRetrans: uint32(i % 7), SndWnd: 65536,
			},
		}
	}
	return out
}

// BenchmarkHandler5000 renders a page over 5,000 conns, server-side: the
// whole handler with a Source that does not probe.
func BenchmarkHandler5000(b *testing.B) {
	h := connz.Handler(conns(5000))
	for _, format := range []string{"html", "json", "text"} {
		b.Run(format, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/?limit=5000&sort=idle&format="+format, nil)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

// BenchmarkHandlerLive5000 renders the page over 5,000 live loopback conns
// (2,500 pairs, both ends tracked): the probes included.
func BenchmarkHandlerLive5000(b *testing.B) {
	w := newWorld(b, 2500)
	h := connz.Handler(w.ln, w.d)
	req := httptest.NewRequest(http.MethodGet, "/?limit=5000", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
