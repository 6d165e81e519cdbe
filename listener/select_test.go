package listener_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

func TestSelectOlderThanIdleFor(t *testing.T) {
	ln, err := listener.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accept := func() (net.Conn, net.Conn) {
		t.Helper()
		client, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		server, err := ln.Accept()
		require.NoError(t, err)
		t.Cleanup(func() { client.Close(); server.Close() })
		return client, server
	}
	_, old := accept()
	time.Sleep(500 * time.Millisecond)
	client, young := accept()
	_, err = client.Write([]byte("x"))
	require.NoError(t, err)
	_, err = young.Read(make([]byte, 1)) // young is active now
	require.NoError(t, err)

	ids := func(sts []trackedconn.State) []uint64 {
		var out []uint64
		for _, s := range sts {
			out = append(out, s.ID)
		}
		return out
	}
	oldID, youngID := old.(*trackedconn.Conn).State().ID, young.(*trackedconn.Conn).State().ID

	// Wide bounds: the conns are 500 ms apart, the bound is 250 ms.
	assert.Equal(t, []uint64{oldID}, ids(ln.OlderThan(250*time.Millisecond)), "OlderThan(250ms)")
	assert.Empty(t, ln.OlderThan(time.Hour), "OlderThan(1h)")
	assert.Equal(t, []uint64{oldID}, ids(ln.IdleFor(250*time.Millisecond)), "IdleFor(250ms): young read")
	assert.Equal(t, []uint64{oldID, youngID}, ids(ln.Select(nil)), "Select(nil): all, oldest first")
	assert.Equal(t, []uint64{youngID}, ids(ln.Select(func(s trackedconn.State) bool { return s.BytesRead > 0 })), "Select(read)")

	require.NoError(t, old.Close())
	assert.Empty(t, ln.OlderThan(250*time.Millisecond), "a closed conn is not live")
}
