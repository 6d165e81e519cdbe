package benchcmp

import (
	"io"
	"net"
	"os"
	"runtime"
	"testing"
)

// The workloads below run over conns a contender made (dialed, accepted or
// wrapped); the benchmarks of trackedconn and bench/conntrack share them.

// PingPong echoes size-byte messages on server in the background and
// returns op, one round trip from client, and stop, which closes client,
// waits for the echo to end and closes server.
func PingPong(b *testing.B, client, server net.Conn, size int) (op, stop func()) {
	echoed := make(chan struct{})
	go func() {
		defer close(echoed)
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(server, buf); err != nil {
				return
			}
			if _, err := server.Write(buf); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, size)
	op = func() {
		if _, err := client.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf); err != nil {
			b.Fatal(err)
		}
	}
	return op, func() {
		client.Close()
		<-echoed
		server.Close()
	}
}

// Drain reads c to EOF in the background, then closes it; the channel is
// closed once it has.
func Drain(c net.Conn) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}()
	return done
}

// SendFile returns a bulk copy (see CompareBulk) of the file name, size
// bytes, into conn with io.Copy, as a file server does (sendfile where the
// conn lets io.Copy see the socket); sink, the other end, is drained.
func SendFile(b *testing.B, name string, size int64, conn, sink net.Conn) (copy func()) {
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	drained := Drain(sink)
	return func() {
		if n, err := io.Copy(conn, f); err != nil || n != size {
			b.Fatalf("io.Copy = %d, %v; want %d, nil", n, err, size)
		}
		conn.Close()
		<-drained
		f.Close()
	}
}

// Relay returns a bulk copy (see CompareBulk) of size bytes from in to
// out with io.CopyN, as a proxy does (splice where the conns let io.Copy
// see the sockets). feed, in's peer, writes the bytes in the background;
// sink, out's peer, is drained.
func Relay(b *testing.B, size int64, feed, in, out, sink net.Conn) (copy func()) {
	drained := Drain(sink)
	fed := make(chan struct{})
	chunk := make([]byte, 256<<10)
	go func() {
		defer close(fed)
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			if _, err := feed.Write(chunk); err != nil {
				return
			}
		}
	}()
	return func() {
		if n, err := io.CopyN(out, in, size); err != nil || n != size {
			b.Fatalf("io.CopyN = %d, %v; want %d, nil", n, err, size)
		}
		<-fed
		feed.Close()
		in.Close()
		out.Close()
		<-drained
	}
}

// HeapAfterGC returns the live Go heap after a full collection, for
// benchmarks that report the heap a conn holds (B/conn).
func HeapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
