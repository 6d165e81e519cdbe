package trackedconn_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/trackedconn"
)

const bulk = 8 << 20

// payload returns n reproducible pseudo-random bytes.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	return b
}

// payloadFile writes data to a file in the test's temporary directory and
// returns its name.
func payloadFile(t *testing.T, data []byte) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "payload")
	require.NoError(t, os.WriteFile(name, data, 0o600))
	return name
}

func openFile(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// drained is what a drain saw.
type drained struct {
	n   int64
	sum [sha256.Size]byte
	err error
}

// drain reads r to EOF in the background and reports the byte count and
// SHA-256 of what it read.
func drain(r io.Reader) <-chan drained {
	done := make(chan drained, 1)
	go func() {
		h := sha256.New()
		n, err := io.Copy(h, readerOnly{r})
		var d drained
		d.n, d.err = n, err
		copy(d.sum[:], h.Sum(nil))
		done <- d
	}()
	return done
}

// feed writes data to w in the background, then runs end (CloseWrite or
// Close) and reports the first error.
func feed(w net.Conn, data []byte, end func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(data)
		if err2 := end(); err == nil {
			err = err2
		}
		done <- err
	}()
	return done
}

func requireDrained(t *testing.T, d <-chan drained, want []byte) {
	t.Helper()
	got := <-d
	require.NoError(t, got.err, "the receiving end")
	require.Equal(t, int64(len(want)), got.n, "bytes received")
	require.Equal(t, sha256.Sum256(want), got.sum, "SHA-256 of the bytes received")
}

func TestCopyFileToConn(t *testing.T) {
	t.Parallel()
	data := payload(bulk, 1)
	name := payloadFile(t, data)
	const part = bulk/2 + 3
	tests := []struct {
		name string
		copy func(c *trackedconn.Conn, f *os.File) (int64, error)
		want int
	}{
		{"io.Copy", func(c *trackedconn.Conn, f *os.File) (int64, error) { return io.Copy(c, f) }, bulk},
		// Since Go 1.22 (*os.File).WriteTo sendfiles into any syscall.Conn
		// destination it can get a poll.FD from: it used to bypass the counters.
		{"File.WriteTo", func(c *trackedconn.Conn, f *os.File) (int64, error) { return f.WriteTo(c) }, bulk},
		{"Conn.ReadFrom", func(c *trackedconn.Conn, f *os.File) (int64, error) { return c.ReadFrom(f) }, bulk},
		{"io.CopyN", func(c *trackedconn.Conn, f *os.File) (int64, error) { return io.CopyN(c, f, part) }, part},
		{"io.LimitReader", func(c *trackedconn.Conn, f *os.File) (int64, error) { return io.Copy(c, io.LimitReader(f, part)) }, part},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, server := tcpPair(t)
			c, rec := wrapRec(client)
			got := drain(server)
			f := openFile(t, name)
			n, err := tt.copy(c, f)
			require.NoError(t, err, "copy")
			require.Equal(t, int64(tt.want), n, "bytes copied")
			require.NoError(t, c.CloseWrite())
			requireDrained(t, got, data[:tt.want])
			st := c.State()
			assert.Equal(t, int64(tt.want), st.BytesWritten, "BytesWritten must count every byte sent from the file")
			assert.False(t, st.LastWriteAt.IsZero(), "LastWriteAt after a copy")
			assert.Equal(t, int64(0), st.BytesRead, "BytesRead")
			if tt.want < bulk {
				rest, err := io.ReadAll(f)
				require.NoError(t, err)
				assert.Equal(t, data[tt.want:], rest, "the file must be left right after the copied part")
			}
			require.NoError(t, c.Close())
			assert.Equal(t, trackedconn.CauseLocal, c.State().Cause, "Cause")
			assert.Equal(t, 0, rec.count(trackedconn.EventPeerClosed), "a file's EOF is not the conn's peer closing")
		})
	}
}

// TestFileWriteToSeesNoPollFD guards the mechanism behind the File.WriteTo
// case above: os finds a socket to sendfile into through a PollFD method
// on the raw conn.
func TestFileWriteToSeesNoPollFD(t *testing.T) {
	t.Parallel()
	client, _ := tcpPair(t)
	c := trackedconn.Wrap(client)
	defer c.Close()
	rc, err := c.SyscallConn()
	require.NoError(t, err)
	inner, err := client.SyscallConn()
	require.NoError(t, err)
	_, innerHas := reflect.TypeOf(inner).MethodByName("PollFD")
	require.True(t, innerHas, "the check is stale: the net package's raw conn no longer has PollFD")
	_, has := reflect.TypeOf(rc).MethodByName("PollFD")
	require.False(t, has, "the tracked raw conn exposes PollFD: os.File.WriteTo would sendfile behind the counters")
}

// relay is a tracked conn fed by a raw one (src) and a tracked conn that
// feeds a raw one (dst): copying from src to dst is what a proxy does.
type relay struct {
	feedEnd net.Conn          // raw, writes into src
	src     *trackedconn.Conn // reads what feedEnd wrote
	srcRec  *recorder
	dst     *trackedconn.Conn // writes into sinkEnd
	dstRec  *recorder
	sinkEnd net.Conn // raw, reads what dst wrote
}

func newRelay(t *testing.T, srcPair, dstPair func(testing.TB) (net.Conn, net.Conn)) *relay {
	r := new(relay)
	var srcInner, dstInner net.Conn
	r.feedEnd, srcInner = srcPair(t)
	dstInner, r.sinkEnd = dstPair(t)
	r.src, r.srcRec = wrapRec(srcInner)
	r.dst, r.dstRec = wrapRec(dstInner)
	t.Cleanup(func() { r.src.Close(); r.dst.Close() })
	return r
}

func tcpPairConn(t testing.TB) (net.Conn, net.Conn)  { c, s := tcpPair(t); return c, s }
func unixPairConn(t testing.TB) (net.Conn, net.Conn) { c, s := unixPair(t); return c, s }
func pipePair(t testing.TB) (net.Conn, net.Conn) {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// closeWrite returns a func that half-closes c, or closes it where it
// cannot half-close (net.Pipe).
func closeWrite(c net.Conn) func() error {
	return func() error {
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			if err := cw.CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
				return err
			}
		}
		return c.Close()
	}
}

func TestCopyConnToConn(t *testing.T) {
	t.Parallel()
	data := payload(bulk, 2)
	type pairFunc = func(testing.TB) (net.Conn, net.Conn)
	tests := []struct {
		name     string
		src, dst pairFunc
		copy     func(dst, src *trackedconn.Conn) (int64, error)
		size     int
	}{
		{"tcp to tcp, io.Copy (splice)", tcpPairConn, tcpPairConn, func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, s) }, bulk},
		{"tcp to tcp, ReadFrom", tcpPairConn, tcpPairConn, func(d, s *trackedconn.Conn) (int64, error) { return d.ReadFrom(s) }, bulk},
		{"tcp to tcp, WriteTo", tcpPairConn, tcpPairConn, func(d, s *trackedconn.Conn) (int64, error) { return s.WriteTo(d) }, bulk},
		{"unix to tcp", unixPairConn, tcpPairConn, func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, s) }, bulk},
		{"tcp to unix", tcpPairConn, unixPairConn, func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, s) }, bulk},
		{"unix to unix", unixPairConn, unixPairConn, func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, s) }, bulk},
		{"pipe to pipe", pipePair, pipePair, func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, s) }, 1 << 20},
		{"pipe to tcp", pipePair, tcpPairConn, func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, s) }, 1 << 20},
		{"tcp to pipe", tcpPairConn, pipePair, func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, s) }, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRelay(t, tt.src, tt.dst)
			want := data[:tt.size]
			fed := feed(r.feedEnd, want, closeWrite(r.feedEnd))
			got := drain(r.sinkEnd)
			n, err := tt.copy(r.dst, r.src)
			require.NoError(t, err, "copy until the source's EOF")
			require.Equal(t, int64(tt.size), n, "bytes copied")
			require.NoError(t, <-fed, "feeding the source")
			require.NoError(t, closeWrite(r.dst)(), "ending the destination")
			requireDrained(t, got, want)

			ss, ds := r.src.State(), r.dst.State()
			assert.Equal(t, int64(tt.size), ss.BytesRead, "source BytesRead")
			assert.Equal(t, int64(tt.size), ds.BytesWritten, "destination BytesWritten")
			assert.Equal(t, int64(0), ss.BytesWritten, "source BytesWritten")
			assert.Equal(t, int64(0), ds.BytesRead, "destination BytesRead")
			assert.True(t, ss.PeerClosed, "the source's PeerClosed after the copy ended at its EOF")
			assert.Equal(t, 1, r.srcRec.count(trackedconn.EventPeerClosed), "source EventPeerClosed")
			assert.False(t, ds.PeerClosed, "the destination's PeerClosed")
			assert.False(t, ss.Reset || ds.Reset || ss.TimedOut || ds.TimedOut, "no failure may be recorded: %+v %+v", ss, ds)
		})
	}
}

func TestCopyNLeavesTheRest(t *testing.T) {
	t.Parallel()
	data := payload(bulk, 3)
	const n = 3<<20 + 5
	tests := []struct {
		name string
		copy func(dst, src *trackedconn.Conn) (int64, error)
	}{
		{"io.CopyN", func(d, s *trackedconn.Conn) (int64, error) { return io.CopyN(d, s, n) }},
		{"io.Copy of io.LimitReader", func(d, s *trackedconn.Conn) (int64, error) { return io.Copy(d, io.LimitReader(s, n)) }},
		{"ReadFrom of io.LimitedReader", func(d, s *trackedconn.Conn) (int64, error) {
			lr := &io.LimitedReader{R: s, N: n}
			m, err := d.ReadFrom(lr)
			if lr.N != 0 {
				t.Errorf("LimitedReader.N = %d after copying its limit, want 0", lr.N)
			}
			return m, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRelay(t, tcpPairConn, tcpPairConn)
			fed := feed(r.feedEnd, data, closeWrite(r.feedEnd))
			got := drain(r.sinkEnd)
			m, err := tt.copy(r.dst, r.src)
			require.NoError(t, err)
			require.Equal(t, int64(n), m, "bytes copied")
			assert.Equal(t, int64(n), r.src.State().BytesRead, "source BytesRead after the limited copy")
			assert.Equal(t, int64(n), r.dst.State().BytesWritten, "destination BytesWritten")
			assert.False(t, r.src.State().PeerClosed, "stopping at the limit is not the source's EOF")
			require.NoError(t, r.dst.CloseWrite())
			requireDrained(t, got, data[:n])

			rest, err := io.ReadAll(r.src)
			require.NoError(t, err)
			require.NoError(t, <-fed)
			assert.True(t, bytes.Equal(data[n:], rest), "the rest of the source must still be readable (%d bytes, want %d)", len(rest), len(data)-n)
			assert.Equal(t, int64(len(data)), r.src.State().BytesRead, "source BytesRead after reading the rest")
			assert.True(t, r.src.State().PeerClosed, "source PeerClosed after its EOF")
		})
	}
}

func TestWriteToWriter(t *testing.T) {
	t.Parallel()
	data := payload(bulk, 4)
	tests := []struct {
		name string
		dst  func() (io.Writer, func() []byte)
	}{
		{"bytes.Buffer (a ReaderFrom)", func() (io.Writer, func() []byte) {
			var b bytes.Buffer
			return &b, b.Bytes
		}},
		{"plain Writer", func() (io.Writer, func() []byte) {
			var b bytes.Buffer
			return writerOnly{&b}, b.Bytes
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, server := tcpPair(t)
			c, rec := wrapRec(client)
			fed := feed(server, data, server.Close)
			w, written := tt.dst()
			n, err := io.Copy(w, c)
			require.NoError(t, err, "a nil error means the peer's EOF")
			require.NoError(t, <-fed)
			require.Equal(t, int64(bulk), n)
			require.Equal(t, sha256.Sum256(data), sha256.Sum256(written()), "SHA-256 of what was copied")
			st := c.State()
			assert.Equal(t, int64(bulk), st.BytesRead, "BytesRead")
			assert.True(t, st.PeerClosed, "PeerClosed after WriteTo returned nil")
			assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed), "EventPeerClosed")
			require.NoError(t, c.Close())
			assert.Equal(t, trackedconn.CausePeer, c.State().Cause)
		})
	}
}

func TestCopyToUnixDestination(t *testing.T) {
	t.Parallel()
	data := payload(bulk, 5)
	name := payloadFile(t, data)

	t.Run("tracked tcp into raw unix", func(t *testing.T) {
		t.Parallel()
		feedEnd, srcInner := tcpPair(t)
		dst, sinkEnd := unixPair(t)
		src, rec := wrapRec(srcInner)
		fed := feed(feedEnd, data, feedEnd.CloseWrite)
		got := drain(sinkEnd)
		n, err := io.Copy(dst, src) // src.WriteTo: the inner TCPConn splices into a UnixConn
		require.NoError(t, err)
		require.Equal(t, int64(bulk), n)
		require.NoError(t, <-fed)
		require.NoError(t, dst.CloseWrite())
		requireDrained(t, got, data)
		assert.Equal(t, int64(bulk), src.State().BytesRead, "source BytesRead")
		assert.True(t, src.State().PeerClosed, "source PeerClosed")
		assert.Equal(t, 1, rec.count(trackedconn.EventPeerClosed))
		require.NoError(t, src.Close())
	})
	t.Run("file into tracked unix", func(t *testing.T) {
		t.Parallel()
		dstInner, sinkEnd := unixPair(t)
		dst := trackedconn.Wrap(dstInner)
		got := drain(sinkEnd)
		n, err := io.Copy(dst, openFile(t, name))
		require.NoError(t, err)
		require.Equal(t, int64(bulk), n)
		require.NoError(t, dst.CloseWrite())
		requireDrained(t, got, data)
		assert.Equal(t, int64(bulk), dst.State().BytesWritten, "destination BytesWritten")
		require.NoError(t, dst.Close())
	})
}

// TestCopyFailureBlame checks which end of a relay a failed copy is
// recorded on.
func TestCopyFailureBlame(t *testing.T) {
	t.Parallel()
	t.Run("source reset", func(t *testing.T) {
		t.Parallel()
		r := newRelay(t, tcpPairConn, tcpPairConn)
		got := drain(r.sinkEnd)
		fed := feed(r.feedEnd, payload(64<<10, 6), func() error {
			r.feedEnd.(*net.TCPConn).SetLinger(0)
			return r.feedEnd.Close()
		})
		n, err := io.Copy(r.dst, r.src)
		require.ErrorIs(t, err, syscall.ECONNRESET, "copy from a reset source")
		require.NoError(t, <-fed)
		ss, ds := r.src.State(), r.dst.State()
		assert.True(t, ss.Reset, "the source was reset")
		assert.Equal(t, 1, r.srcRec.count(trackedconn.EventReset), "source EventReset")
		assert.False(t, ds.Reset, "the destination was not reset")
		assert.False(t, r.dst.IsClosed(), "the destination is still usable")
		assert.Equal(t, n, ss.BytesRead, "source BytesRead")
		assert.Equal(t, n, ds.BytesWritten, "destination BytesWritten")
		require.NoError(t, r.dst.Close())
		d := <-got
		require.NoError(t, d.err)
		assert.Equal(t, n, d.n, "bytes the sink received")
	})
	t.Run("destination reset", func(t *testing.T) {
		t.Parallel()
		r := newRelay(t, tcpPairConn, tcpPairConn)
		require.NoError(t, r.sinkEnd.(*net.TCPConn).SetLinger(0))
		require.NoError(t, r.sinkEnd.Close())
		// The feeder keeps the source readable until the copy gives up.
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			buf := make([]byte, 32<<10)
			for {
				if _, err := r.feedEnd.Write(buf); err != nil {
					return
				}
			}
		}()
		_, err := io.Copy(r.dst, r.src)
		require.Error(t, err, "copy into a reset destination")
		require.True(t, errorIsAny(err, syscall.ECONNRESET, syscall.EPIPE), "copy error %v, want ECONNRESET or EPIPE", err)
		dstSt, srcSt := r.dst.State(), r.src.State()
		assert.True(t, dstSt.Reset, "the destination was reset")
		assert.Equal(t, 1, r.dstRec.count(trackedconn.EventReset), "destination EventReset")
		assert.False(t, srcSt.Reset || srcSt.PeerClosed, "nothing happened to the source: %+v", srcSt)
		require.NoError(t, r.feedEnd.Close())
		<-fed
	})
}

func errorIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// TestZeroCopySurvivesWrapping proves that the kernel's zero-copy paths
// are still taken through tracked conns. On the copying thread a
// read/write loop costs one read(2) or write(2) per 32 KiB, which
// /proc/thread-self/io counts (syscr, syscw); sendfile(2) costs one count
// per call moving up to the socket's free buffer, and splice(2) none. The
// raw conns are measured in the same run, so the test needs no
// kernel-specific constant and skips where the difference does not show.
func TestZeroCopySurvivesWrapping(t *testing.T) {
	if _, _, err := threadIO(); err != nil {
		t.Skipf("no per-thread I/O accounting: %v", err)
	}
	data := payload(bulk, 7)
	name := payloadFile(t, data)

	sendfile := func(t *testing.T, wrap func(net.Conn) net.Conn, generic bool) int64 {
		client, server := tcpPair(t)
		dst := wrap(client)
		got := drain(server)
		f := openFile(t, name)
		calls := countIO(t, func() { copyAll(t, dst, f, generic, bulk) })
		require.NoError(t, dst.Close())
		requireDrained(t, got, data)
		return calls
	}
	spliceTo := func(t *testing.T, dstPair func(testing.TB) (net.Conn, net.Conn), wrap func(net.Conn) net.Conn, generic bool) int64 {
		feedEnd, srcInner := tcpPair(t)
		dstInner, sinkEnd := dstPair(t)
		src, dst := wrap(srcInner), wrap(dstInner)
		fed := feed(feedEnd, data, feedEnd.CloseWrite)
		got := drain(sinkEnd)
		calls := countIO(t, func() { copyAll(t, dst, src, generic, bulk) })
		require.NoError(t, <-fed)
		require.NoError(t, dst.Close())
		requireDrained(t, got, data)
		require.NoError(t, src.Close())
		return calls
	}
	splice := func(t *testing.T, wrap func(net.Conn) net.Conn, generic bool) int64 {
		return spliceTo(t, func(t testing.TB) (net.Conn, net.Conn) { return tcpPair(t) }, wrap, generic)
	}
	// Regression: a tracked Unix destination has no ReaderFrom, and WriteTo
	// used to fall back to a read/write loop instead of TCP-to-Unix splice.
	spliceUnix := func(t *testing.T, wrap func(net.Conn) net.Conn, generic bool) int64 {
		return spliceTo(t, func(t testing.TB) (net.Conn, net.Conn) { return unixPair(t) }, wrap, generic)
	}
	raw := func(c net.Conn) net.Conn { return c }
	tracked := func(c net.Conn) net.Conn { return trackedconn.Wrap(c) }

	for _, tc := range []struct {
		name string
		run  func(*testing.T, func(net.Conn) net.Conn, bool) int64
	}{{"sendfile", sendfile}, {"splice", splice}, {"splice to unix", spliceUnix}} {
		t.Run(tc.name, func(t *testing.T) {
			zero := tc.run(t, raw, false)
			loop := tc.run(t, raw, true)
			t.Logf("raw %s: %d read/write counts; read/write loop: %d", tc.name, zero, loop)
			if loop < 4*(zero+4) {
				t.Skipf("this kernel does not tell %s from a read/write loop (%d vs %d)", tc.name, zero, loop)
			}
			got := tc.run(t, tracked, false)
			t.Logf("tracked %s: %d", tc.name, got)
			assert.Less(t, got, (zero+loop)/2,
				"io.Copy between tracked ends made %d read/write calls, like a read/write loop (%d), not like raw %s (%d)", got, loop, tc.name, zero)
		})
	}
}

// countIO runs f on a goroutine locked to its thread and returns how many
// read-like and write-like system calls that thread made meanwhile.
// copyAll copies src into dst with io.Copy, through the kernel paths
// (generic false) or through plain Read and Write, and checks that want
// bytes moved. It uses assert, not require: it runs on countIO's goroutine.
func copyAll(t *testing.T, dst io.Writer, src io.Reader, generic bool, want int) {
	t.Helper()
	var (
		n   int64
		err error
	)
	if generic {
		n, err = io.Copy(writerOnly{dst}, readerOnly{src})
	} else {
		n, err = io.Copy(dst, src)
	}
	assert.NoError(t, err)
	assert.Equal(t, int64(want), n)
}

func countIO(t *testing.T, f func()) int64 {
	t.Helper()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r0, w0, err := threadIO()
		if err != nil {
			done <- result{err: err}
			return
		}
		f()
		r1, w1, err := threadIO()
		done <- result{r1 - r0 + w1 - w0, err}
	}()
	r := <-done
	require.NoError(t, r.err, "reading /proc/thread-self/io")
	return r.n
}

// threadIO returns the syscr and syscw counters of the calling thread.
func threadIO() (syscr, syscw int64, err error) {
	b, err := os.ReadFile("/proc/thread-self/io")
	if err != nil {
		return 0, 0, err
	}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			continue
		}
		switch k {
		case "syscr":
			syscr, err = strconv.ParseInt(v, 10, 64)
			found++
		case "syscw":
			syscw, err = strconv.ParseInt(v, 10, 64)
			found++
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if found != 2 {
		return 0, 0, os.ErrNotExist
	}
	return syscr, syscw, nil
}

// Regression: a spliced copy between tracked conns counted its bytes only
// when it returned, so a long relay showed 0 bytes (and looked idle to
// Group.IdleFor) while it ran. The counters now move every chunk.
func TestZeroCopyCountsWhileRunning(t *testing.T) {
	t.Parallel()
	feedEnd, srcInner := tcpPair(t)
	dstInner, sinkEnd := tcpPair(t)
	src, dst := trackedconn.Wrap(srcInner), trackedconn.Wrap(dstInner)
	got := drain(sinkEnd)
	first := payload(6<<20, 11)
	fed := make(chan error, 1)
	go func() { // the relay gets 6 MiB, then waits for more
		_, err := feedEnd.Write(first)
		fed <- err
	}()

	copied := make(chan error, 1)
	go func() {
		_, err := io.Copy(dst, src)
		copied <- err
	}()
	require.Eventually(t, func() bool {
		return dst.State().BytesWritten >= 4<<20 && src.State().BytesRead >= 4<<20
	}, 10*time.Second, time.Millisecond, "byte counters while the copy still runs")
	select {
	case err := <-copied:
		t.Fatalf("io.Copy returned early: %v", err)
	default:
	}
	assert.False(t, dst.State().LastWriteAt.IsZero(), "LastWriteAt while the copy still runs")

	require.NoError(t, <-fed, "feed Write")
	require.NoError(t, feedEnd.CloseWrite())
	require.NoError(t, <-copied, "io.Copy")
	require.NoError(t, dst.Close())
	requireDrained(t, got, first)
	assert.Equal(t, int64(len(first)), src.State().BytesRead, "src BytesRead at the end")
	assert.Equal(t, int64(len(first)), dst.State().BytesWritten, "dst BytesWritten at the end")
	assert.True(t, src.State().PeerClosed, "src saw the feed's EOF")
	require.NoError(t, src.Close())
}
