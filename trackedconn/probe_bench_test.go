package trackedconn_test

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// BenchmarkProbe compares Probe on an idle, open loopback TCP conn with the
// probes people write by hand. DESIGN.md: Probe with the stall check <= 3
// us and 0 allocs, and faster than a deadline-based read probe.
//
//	impl=raw            SetReadDeadline(now+1ms) and Read of one byte: on an
//	                    open conn it waits the whole millisecond (and would
//	                    eat a byte, and clobbers the caller's deadline)
//	impl=tracked        Probe: on Linux getsockopt(TCP_INFO), the stall rule
//	                    on what it read, and ioctl(SIOCINQ); it never
//	                    receives. Elsewhere recv(MSG_PEEK|MSG_DONTWAIT)
//	impl=deadline-past  SetReadDeadline(now) and Read: fast, but Go returns
//	                    the timeout before it looks at the socket, so it
//	                    learns nothing, not even pending data or a FIN
func BenchmarkProbe(b *testing.B) {
	b.Run("impl=raw", func(b *testing.B) {
		c, _ := tcpPair(b)
		buf := make([]byte, 1)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				b.Fatalf("Read on an idle conn: %v, want a timeout", err)
			}
		}
	})
	b.Run("impl=tracked", func(b *testing.B) {
		c, _ := tcpPair(b)
		tc := trackedconn.Wrap(c)
		want := trackedconn.LivenessOpen
		if !plPeeks() {
			want = trackedconn.LivenessUnknown
		}
		b.ReportAllocs()
		for b.Loop() {
			if l := tc.Probe(); l != want {
				b.Fatalf("Probe() = %v, want %v", l, want)
			}
		}
	})
	b.Run("impl=deadline-past", func(b *testing.B) {
		c, _ := tcpPair(b)
		buf := make([]byte, 1)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.SetReadDeadline(time.Now()); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				b.Fatalf("Read past the deadline: %v, want a timeout", err)
			}
		}
	})
}

// BenchmarkProbeReadable is Probe with data pending, which on Linux the same
// two system calls tell (TCP_INFO's state says whether a FIN is queued
// behind the data).
func BenchmarkProbeReadable(b *testing.B) {
	c, s := tcpPair(b)
	tc := trackedconn.Wrap(c)
	if _, err := s.Write([]byte("x")); err != nil {
		b.Fatal(err)
	}
	want := trackedconn.LivenessReadable
	if !plPeeks() {
		want = trackedconn.LivenessUnknown
	}
	for deadline := time.Now().Add(5 * time.Second); tc.Probe() != want; {
		if time.Now().After(deadline) {
			b.Fatalf("Probe() never answered %v", want)
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	for b.Loop() {
		if l := tc.Probe(); l != want {
			b.Fatalf("Probe() = %v, want %v", l, want)
		}
	}
}
