package trackedconn_test

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

// copyResult is what a background copy returned.
type copyResult struct {
	n   int64
	err error
}

// copyIn runs io.Copy(dst, src) in the background. It takes its arguments
// as parameters, so that no closure keeps them reachable: only the copy
// itself does.
//
//go:noinline
func copyIn(dst io.Writer, src io.Reader) <-chan copyResult {
	done := make(chan copyResult, 1)
	go copyTo(dst, src, done)
	return done
}

//go:noinline
func copyTo(dst io.Writer, src io.Reader, done chan<- copyResult) {
	n, err := io.Copy(dst, src)
	done <- copyResult{n, err}
}

// Regression (issue 14 item 2): a running ReadFrom or WriteTo did not keep
// its tracked ends reachable: the leak detector closed them mid-copy
// ([open leak close]) and the bytes that came later were lost.
func TestCopyKeepsTrackedEndsReachable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// start wraps some of the inner conns with opts, drops them, and
		// starts a copy from srcInner to dstInner.
		start func(dstInner, srcInner net.Conn, opts ...trackedconn.Option) <-chan copyResult
	}{
		{"ReadFrom, tracked destination", func(d, s net.Conn, opts ...trackedconn.Option) <-chan copyResult {
			return copyIn(trackedconn.Wrap(d, opts...), s)
		}},
		{"ReadFrom, tracked source", func(d, s net.Conn, opts ...trackedconn.Option) <-chan copyResult {
			return copyIn(trackedconn.Wrap(d), trackedconn.Wrap(s, opts...))
		}},
		{"WriteTo, tracked source", func(d, s net.Conn, opts ...trackedconn.Option) <-chan copyResult {
			return copyIn(d, trackedconn.Wrap(s, opts...))
		}},
		{"WriteTo, tracked unix destination", func(d, s net.Conn, opts ...trackedconn.Option) <-chan copyResult {
			return copyIn(trackedconn.Wrap(d, opts...), trackedconn.Wrap(s))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feedEnd, srcInner := tcpPair(t)
			var dstInner, sinkEnd net.Conn
			if tt.name == "WriteTo, tracked unix destination" {
				dstInner, sinkEnd = unixPair(t)
			} else {
				dstInner, sinkEnd = tcpPair(t)
			}
			hook, events := plHook()
			copied := tt.start(dstInner, srcInner, trackedconn.WithLeakDetection(), trackedconn.WithHook(hook))
			require.Equal(t, trackedconn.EventOpen, (<-events).e)
			for range 20 { // the copy is blocked: nothing but it holds the conn
				runtime.GC()
				time.Sleep(5 * time.Millisecond)
			}
			select {
			case ev := <-events:
				t.Fatalf("event %v while a copy was using the conn", ev.e)
			case r := <-copied:
				t.Fatalf("the copy ended early: %d, %v", r.n, r.err)
			default:
			}
			got := drain(sinkEnd)
			data := payload(100<<10, 12)
			_, err := feedEnd.Write(data)
			require.NoError(t, err)
			require.NoError(t, feedEnd.CloseWrite())
			r := <-copied
			require.NoError(t, r.err, "the copy")
			require.Equal(t, int64(len(data)), r.n, "bytes copied")
			require.NoError(t, dstInner.Close()) // the tracked conns were dropped
			requireDrained(t, got, data)
		})
	}
}

// Regression (issue 14 item 4): a copy from a source that sent FIN into a
// destination whose peer reset recorded the reset on the source.
func TestCopyBlamesResetDestinationNotFinishedSource(t *testing.T) {
	t.Parallel()
	for i := range 3 {
		r := newRelay(t, tcpPairConn, tcpPairConn)
		require.NoError(t, r.sinkEnd.(*net.TCPConn).SetLinger(0))
		require.NoError(t, r.sinkEnd.Close())
		time.Sleep(20 * time.Millisecond) // the RST reaches dst
		fed := feed(r.feedEnd, payload(1000, 13), r.feedEnd.(*net.TCPConn).CloseWrite)
		require.NoError(t, <-fed)
		_, err := io.Copy(r.dst, r.src)
		require.Error(t, err, "copy into a reset destination")
		ss, ds := r.src.State(), r.dst.State()
		assert.True(t, ds.Reset, "run %d: the destination was reset (copy error %v)", i, err)
		assert.False(t, ss.Reset, "run %d: the source only sent FIN (copy error %v)", i, err)
	}
}

// Regression (issue 14 item 4): ReadFrom unwrapped a tracked TLS source,
// so the TLS error (a corrupt record) was never seen by the source and was
// recorded on the destination.
func TestCopyFromTrackedTLSSourceRecordsItsError(t *testing.T) {
	t.Parallel()
	client, server := tlsPair(t)
	hs := make(chan error, 1)
	go func() { hs <- server.Handshake() }()
	require.NoError(t, client.Handshake())
	require.NoError(t, <-hs)

	src := trackedconn.Wrap(server)
	dstInner, sinkEnd := tcpPair(t)
	dst := trackedconn.Wrap(dstInner)
	got := drain(sinkEnd)
	_, err := client.Write([]byte("hello"))
	require.NoError(t, err)
	// An application-data record whose content cannot decrypt.
	_, err = client.NetConn().Write([]byte{23, 3, 3, 0, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32})
	require.NoError(t, err)

	n, err := io.Copy(dst, src)
	require.Error(t, err, "copy from a TLS conn that got a corrupt record")
	assert.Equal(t, int64(5), n, "bytes before the corrupt record")
	require.NoError(t, src.Close())
	require.NoError(t, dst.Close())
	assert.Equal(t, trackedconn.CauseError, src.State().Cause, "source Cause: its Read failed")
	assert.Equal(t, trackedconn.CauseLocal, dst.State().Cause, "destination Cause: nothing failed on it")
	assert.Equal(t, int64(5), src.State().BytesRead, "source BytesRead")
	assert.Equal(t, int64(5), dst.State().BytesWritten, "destination BytesWritten")
	d := <-got
	assert.Equal(t, int64(5), d.n)
	_ = client.Close()
}

// Regression (issue 14 item 5): WriteTo counted only when it returned, and
// a slow spliced copy (1,000 bytes every 100 ms) showed no bytes at all
// until 4 MiB had gone through.
func TestZeroCopyCountsWhileRunningWhateverTheRate(t *testing.T) {
	t.Parallel()
	type ends struct {
		src, dst    *trackedconn.Conn // either may be nil (raw)
		copyDst     io.Writer
		copySrc     io.Reader
		feed, sink  net.Conn
		closeCopyTo func() error
	}
	build := map[string]func(t *testing.T) ends{
		"WriteTo into raw tcp": func(t *testing.T) ends {
			feedEnd, s := tcpPair(t)
			d, sinkEnd := tcpPair(t)
			src := trackedconn.Wrap(s)
			return ends{src: src, copyDst: d, copySrc: src, feed: feedEnd, sink: sinkEnd, closeCopyTo: d.Close}
		},
		"WriteTo into tracked unix": func(t *testing.T) ends {
			feedEnd, s := tcpPair(t)
			d, sinkEnd := unixPair(t)
			src, dst := trackedconn.Wrap(s), trackedconn.Wrap(d)
			return ends{src: src, dst: dst, copyDst: dst, copySrc: src, feed: feedEnd, sink: sinkEnd, closeCopyTo: dst.Close}
		},
		"ReadFrom, tcp to tcp": func(t *testing.T) ends {
			feedEnd, s := tcpPair(t)
			d, sinkEnd := tcpPair(t)
			src, dst := trackedconn.Wrap(s), trackedconn.Wrap(d)
			return ends{src: src, dst: dst, copyDst: dst, copySrc: src, feed: feedEnd, sink: sinkEnd, closeCopyTo: dst.Close}
		},
	}
	for name, mk := range build {
		t.Run(name+", fast", func(t *testing.T) {
			t.Parallel()
			e := mk(t)
			got := drain(e.sink)
			first := payload(6<<20, 14)
			fed := feed(e.feed, first, func() error { return nil })
			copied := copyIn(e.copyDst, e.copySrc)
			require.Eventually(t, func() bool {
				return e.src.State().BytesRead >= 4<<20 && (e.dst == nil || e.dst.State().BytesWritten >= 4<<20)
			}, 10*time.Second, time.Millisecond, "byte counters while the copy still runs")
			select {
			case r := <-copied:
				t.Fatalf("the copy returned early: %v", r.err)
			default:
			}
			require.NoError(t, <-fed)
			require.NoError(t, e.feed.(*net.TCPConn).CloseWrite())
			r := <-copied
			require.NoError(t, r.err)
			require.NoError(t, e.closeCopyTo())
			requireDrained(t, got, first)
			assert.Equal(t, int64(len(first)), e.src.State().BytesRead)
		})
		t.Run(name+", slow", func(t *testing.T) {
			t.Parallel()
			e := mk(t)
			got := drain(e.sink)
			stop := make(chan struct{})
			fed := make(chan error, 1)
			go func() { // 1,000 bytes every 100 ms
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						fed <- e.feed.(*net.TCPConn).CloseWrite()
						return
					case <-tick.C:
						if _, err := e.feed.Write(make([]byte, 1000)); err != nil {
							fed <- err
							return
						}
					}
				}
			}()
			start := time.Now()
			copied := copyIn(e.copyDst, e.copySrc)
			// The counters must show bytes within about a second of their
			// moving; 3 s is a wide margin on a busy machine.
			require.Eventually(t, func() bool {
				ok := e.src.State().BytesRead >= 2000 && !e.src.State().LastReadAt.IsZero()
				if e.dst != nil {
					ok = ok && e.dst.State().BytesWritten >= 2000 && !e.dst.State().LastWriteAt.IsZero()
				}
				return ok
			}, 3*time.Second, 10*time.Millisecond, "counters of a slow zero-copy copy")
			t.Logf("counters moved after %v", time.Since(start))
			close(stop)
			require.NoError(t, <-fed)
			r := <-copied
			require.NoError(t, r.err)
			require.NoError(t, e.closeCopyTo())
			d := <-got
			require.NoError(t, d.err)
			assert.Equal(t, r.n, d.n)
			assert.Equal(t, r.n, e.src.State().BytesRead)
		})
	}
}

// Regression (issue 14 item 8): a successful copy left TimedOut set on the
// source (after a read timeout, io.CopyN) and on the destination (after a
// write timeout, io.Copy into a tracked Unix conn), so Close blamed a
// timeout.
func TestCopyClearsTimedOut(t *testing.T) {
	t.Parallel()
	t.Run("source, io.CopyN", func(t *testing.T) {
		t.Parallel()
		r := newRelay(t, tcpPairConn, tcpPairConn)
		require.NoError(t, r.src.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
		_, err := r.src.Read(make([]byte, 10))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.True(t, r.src.State().TimedOut, "TimedOut after the read timeout")
		require.NoError(t, r.src.SetReadDeadline(time.Time{}))
		got := drain(r.sinkEnd)
		fed := feed(r.feedEnd, payload(64<<10, 15), func() error { return nil })
		n, err := io.CopyN(r.dst, r.src, 64<<10)
		require.NoError(t, err)
		require.Equal(t, int64(64<<10), n)
		require.NoError(t, <-fed)
		assert.False(t, r.src.State().TimedOut, "source TimedOut after a successful copy")
		require.NoError(t, r.src.Close())
		require.NoError(t, r.dst.Close())
		assert.Equal(t, trackedconn.CauseLocal, r.src.State().Cause, "source Cause")
		<-got
	})
	t.Run("destination, io.Copy into unix", func(t *testing.T) {
		t.Parallel()
		feedEnd, srcInner := tcpPair(t)
		dstInner, sinkEnd := unixPair(t)
		src, dst := trackedconn.Wrap(srcInner), trackedconn.Wrap(dstInner)
		defer src.Close()
		require.NoError(t, dst.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
		_, err := dst.Write(make([]byte, 32<<20)) // nobody reads: it times out
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.True(t, dst.State().TimedOut, "TimedOut after the write timeout")
		require.NoError(t, dst.SetWriteDeadline(time.Time{}))
		got := drain(sinkEnd)
		fed := feed(feedEnd, payload(64<<10, 16), feedEnd.CloseWrite)
		_, err = io.Copy(dst, src)
		require.NoError(t, err)
		require.NoError(t, <-fed)
		assert.False(t, dst.State().TimedOut, "destination TimedOut after a successful copy")
		require.NoError(t, dst.Close())
		assert.Equal(t, trackedconn.CauseLocal, dst.State().Cause, "destination Cause")
		<-got
	})
}

// Regression (issue 14 item 10): these copies lost the kernel's zero-copy
// path through the wrapper (sendfile or splice became a read/write loop).
// As TestZeroCopySurvivesWrapping, it compares with the raw conns in the
// same run.
func TestZeroCopyKeptForUnixAndFiles(t *testing.T) {
	if _, _, err := threadIO(); err != nil {
		t.Skipf("no per-thread I/O accounting: %v", err)
	}
	data := payload(bulk, 17)
	name := payloadFile(t, data)
	raw := func(c net.Conn) net.Conn { return c }
	tracked := func(c net.Conn) net.Conn { return trackedconn.Wrap(c) }
	unixTB := func(t testing.TB) (net.Conn, net.Conn) { return unixPair(t) }
	tcpTB := func(t testing.TB) (net.Conn, net.Conn) { return tcpPair(t) }

	// fileToConn copies the file into a conn of dstPair.
	fileToConn := func(dstPair func(testing.TB) (net.Conn, net.Conn)) func(*testing.T, func(net.Conn) net.Conn, bool) int64 {
		return func(t *testing.T, wrap func(net.Conn) net.Conn, generic bool) int64 {
			d, sinkEnd := dstPair(t)
			dst := wrap(d)
			got := drain(sinkEnd)
			f := openFile(t, name)
			calls := countIO(t, func() { copyAll(t, dst, f, generic, bulk) })
			require.NoError(t, dst.Close())
			requireDrained(t, got, data)
			return calls
		}
	}
	// connToConn copies from a conn of srcPair (wrapped) into a raw conn
	// of dstPair.
	connToConn := func(srcPair, dstPair func(testing.TB) (net.Conn, net.Conn)) func(*testing.T, func(net.Conn) net.Conn, bool) int64 {
		return func(t *testing.T, wrap func(net.Conn) net.Conn, generic bool) int64 {
			feedEnd, s := srcPair(t)
			dst, sinkEnd := dstPair(t)
			src := wrap(s)
			fed := feed(feedEnd, data, closeWrite(feedEnd))
			got := drain(sinkEnd)
			calls := countIO(t, func() { copyAll(t, dst, src, generic, bulk) })
			require.NoError(t, <-fed)
			require.NoError(t, dst.Close())
			requireDrained(t, got, data)
			require.NoError(t, src.Close())
			return calls
		}
	}
	connToFile := func(t *testing.T, wrap func(net.Conn) net.Conn, generic bool) int64 {
		feedEnd, s := unixPair(t)
		src := wrap(s)
		fed := feed(feedEnd, data, feedEnd.CloseWrite)
		out, err := os.Create(filepath.Join(t.TempDir(), "out"))
		require.NoError(t, err)
		defer out.Close()
		calls := countIO(t, func() { copyAll(t, out, src, generic, bulk) })
		require.NoError(t, <-fed)
		require.NoError(t, src.Close())
		written, err := os.ReadFile(out.Name())
		require.NoError(t, err)
		require.Equal(t, data, written, "the file's content")
		return calls
	}

	for _, tc := range []struct {
		name string
		run  func(*testing.T, func(net.Conn) net.Conn, bool) int64
	}{
		{"file to tracked unix (sendfile)", fileToConn(unixTB)},
		{"tracked unix to raw tcp (splice)", connToConn(unixTB, tcpTB)},
		{"tracked unix to raw unix (splice)", connToConn(unixTB, unixTB)},
		{"tracked unix to file (splice)", connToFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zero := tc.run(t, raw, false)
			loop := tc.run(t, raw, true)
			t.Logf("raw %s: %d read/write counts; read/write loop: %d", tc.name, zero, loop)
			got := tc.run(t, tracked, false)
			t.Logf("tracked %s: %d", tc.name, got)
			if loop < 4*(zero+4) && loop < 4*(got+4) {
				t.Skipf("this kernel does not tell %s from a read/write loop (%d vs %d)", tc.name, zero, loop)
			}
			assert.Less(t, got, loop/4,
				"io.Copy through a tracked conn made %d read/write calls, like a read/write loop (%d), not like raw %s (%d)", got, loop, tc.name, zero)
		})
	}
}

// TestCopyNIntoRawTCPLimit pins the limit documented on WriteTo:
// io.CopyN(rawTCP, tracked) is decided by (*net.TCPConn).ReadFrom, which
// splices only from concrete *net.TCPConn and *net.UnixConn sources, so it
// runs a read/write loop; wrapping the destination too keeps splice. If it
// skips on Linux, the standard library may have learned to splice from any
// raw conn: update the WriteTo doc.
func TestCopyNIntoRawTCPLimit(t *testing.T) {
	if _, _, err := threadIO(); err != nil {
		t.Skipf("no per-thread I/O accounting: %v", err)
	}
	data := payload(bulk, 18)
	run := func(t *testing.T, wrapSrc, wrapDst bool) int64 {
		feedEnd, s := tcpPair(t)
		d, sinkEnd := tcpPair(t)
		var src, dst net.Conn = s, d
		if wrapSrc {
			src = trackedconn.Wrap(s)
		}
		if wrapDst {
			dst = trackedconn.Wrap(d)
		}
		fed := feed(feedEnd, data, feedEnd.CloseWrite)
		got := drain(sinkEnd)
		calls := countIO(t, func() {
			n, err := io.CopyN(dst, src, bulk)
			assert.NoError(t, err)
			assert.Equal(t, int64(bulk), n)
		})
		require.NoError(t, <-fed)
		require.NoError(t, dst.Close())
		requireDrained(t, got, data)
		require.NoError(t, src.Close())
		return calls
	}
	zero := run(t, false, false)
	loop := run(t, true, false)
	both := run(t, true, true)
	t.Logf("io.CopyN raw to raw: %d read/write counts; tracked to raw: %d; tracked to tracked: %d", zero, loop, both)
	if loop < 4*(zero+4) {
		t.Skipf("tracked to raw TCP is not a read/write loop (%d vs %d): the kernel does not tell, or the WriteTo doc is stale", zero, loop)
	}
	assert.Less(t, both, loop/4, "io.CopyN between tracked conns must splice")
}

// countingTCP is a conn type of the caller's over a TCP conn: its raw conn
// is the socket, but its Read and ReadFrom do more (here, count calls).
type countingTCP struct {
	*net.TCPConn
	reads, readFroms atomic.Int64
}

func (c *countingTCP) Read(b []byte) (int, error) {
	c.reads.Add(1)
	return c.TCPConn.Read(b)
}

func (c *countingTCP) ReadFrom(r io.Reader) (int64, error) {
	c.readFroms.Add(1)
	return c.TCPConn.ReadFrom(r)
}

// A copy never goes beneath a conn type of the caller's through its raw
// conn: its Read and ReadFrom are used, as the standard library does.
func TestCopyRespectsCallersConnTypes(t *testing.T) {
	t.Parallel()
	feedEnd, s := tcpPair(t)
	d, sinkEnd := tcpPair(t)
	srcInner, dstInner := &countingTCP{TCPConn: s}, &countingTCP{TCPConn: d}
	src, dst := trackedconn.Wrap(srcInner), trackedconn.Wrap(dstInner)
	data := payload(1<<20, 19)
	fed := feed(feedEnd, data, feedEnd.CloseWrite)
	got := drain(sinkEnd)
	n, err := io.Copy(dst, src)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.NoError(t, <-fed)
	require.NoError(t, dst.Close())
	requireDrained(t, got, data)
	assert.Positive(t, srcInner.reads.Load(), "Read calls on the source's conn type")
	assert.Equal(t, int64(len(data)), src.State().BytesRead, "source BytesRead")
	assert.Equal(t, int64(len(data)), dst.State().BytesWritten, "destination BytesWritten")

	f := openFile(t, payloadFile(t, data))
	d2, sink2 := tcpPair(t)
	inner2 := &countingTCP{TCPConn: d2}
	dst2 := trackedconn.Wrap(inner2)
	got2 := drain(sink2)
	n, err = io.Copy(dst2, f)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.NoError(t, dst2.Close())
	requireDrained(t, got2, data)
	assert.Positive(t, inner2.readFroms.Load(), "ReadFrom calls on the destination's conn type")
	require.NoError(t, src.Close())
}

// A source with a descriptor the kernel copy does not take (a pipe) goes
// through the wrapped conn's ReadFrom in chunks, counted, as on systems
// without splice.
func TestCopyFromPipeFileIntoTrackedTCP(t *testing.T) {
	t.Parallel()
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	defer pr.Close()
	d, sinkEnd := tcpPair(t)
	dst, rec := wrapRec(d)
	data := payload(5<<20, 20)
	got := drain(sinkEnd)
	fed := make(chan error, 1)
	go func() {
		_, err := pw.Write(data)
		if err2 := pw.Close(); err == nil {
			err = err2
		}
		fed <- err
	}()
	n, err := io.Copy(dst, pr)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.NoError(t, <-fed)
	require.NoError(t, dst.Close())
	requireDrained(t, got, data)
	st := dst.State()
	assert.Equal(t, int64(len(data)), st.BytesWritten, "BytesWritten")
	assert.Equal(t, trackedconn.CauseLocal, st.Cause, "Cause")
	assert.Equal(t, 0, rec.count(trackedconn.EventPeerClosed), "a pipe's EOF is not the conn's peer closing")
}
