package dialer_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/dialer"
	"github.com/connwatch/connwatch/trackedconn"
)

func TestSelectOlderThanIdleFor(t *testing.T) {
	ln := tcpListener(t)
	d := dialer.New()
	old, err := d.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer old.Close()
	time.Sleep(500 * time.Millisecond)
	young, err := d.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer young.Close()
	_, err = young.Write([]byte("x")) // young is active now
	require.NoError(t, err)

	ids := func(sts []trackedconn.State) []uint64 {
		var out []uint64
		for _, s := range sts {
			out = append(out, s.ID)
		}
		return out
	}
	oldID, youngID := old.(*trackedconn.Conn).State().ID, young.(*trackedconn.Conn).State().ID

	// The bounds are wide on both sides: the conns are 500 ms apart, the
	// bound 250 ms, and an hour is far beyond either.
	assert.Equal(t, []uint64{oldID}, ids(d.OlderThan(250*time.Millisecond)), "OlderThan(250ms)")
	assert.Empty(t, d.OlderThan(time.Hour), "OlderThan(1h)")
	assert.Equal(t, []uint64{oldID}, ids(d.IdleFor(250*time.Millisecond)), "IdleFor(250ms): young wrote")
	assert.Equal(t, []uint64{oldID, youngID}, ids(d.Select(nil)), "Select(nil): all, oldest first")
	assert.Equal(t, []uint64{youngID}, ids(d.Select(func(s trackedconn.State) bool { return s.BytesWritten > 0 })), "Select(wrote)")

	require.NoError(t, old.Close())
	assert.Empty(t, d.OlderThan(250*time.Millisecond), "a closed conn is not live")
}
