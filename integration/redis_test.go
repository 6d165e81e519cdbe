package integration

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/integration/servers"
	"github.com/connwatch/connwatch/trackedconn"
)

// newRedis returns a go-redis client that dials through tr, and closes it
// at cleanup.
func newRedis(t *testing.T, addr string, tr *tracker) *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr:            addr,
		Dialer:          tr.DialContext,
		PoolSize:        2,
		DisableIdentity: true,
		MaxRetries:      -1, // a command on a dead conn must not hide behind a retry
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestRedisPoolReuse(t *testing.T) {
	addr := servers.Redis(t)
	tr := newTracker("redis")
	rdb := newRedis(t, addr, tr)
	ctx := context.Background()

	const n = 50
	for i := range n {
		require.NoError(t, rdb.Set(ctx, "k", i, 0).Err(), "SET %d", i)
		v, err := rdb.Get(ctx, "k").Int()
		require.NoError(t, err, "GET %d", i)
		require.Equal(t, i, v)
	}
	st := tr.Stats()
	assert.EqualValues(t, 1, st.Opened, "%d sequential commands dial once", 2*n)
	assert.EqualValues(t, 1, st.Active)
	assert.Equal(t, trackedconn.LivenessOpen, tr.Dialed()[0].Probe(), "the pooled conn is open and idle")
	assert.Greater(t, st.BytesWritten, uint64(2*n*len("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")), "bytes written count every command")

	require.NoError(t, rdb.Close())
	c := tr.Dialed()[0].State()
	assert.Equal(t, trackedconn.CauseLocal, c.Cause, "the pool closed a healthy conn itself")
	assert.Zero(t, tr.Stats().Active)
}

// killRedisClient ends the conn with the given CLIENT ID from another conn.
func killRedisClient(t *testing.T, addr string, id int64) {
	admin := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer admin.Close()
	n, err := admin.ClientKillByFilter(context.Background(), "ID", strconv.FormatInt(id, 10)).Result()
	require.NoError(t, err, "CLIENT KILL ID %d", id)
	require.EqualValues(t, 1, n, "CLIENT KILL ID %d killed one client", id)
}

func TestRedisClientKill(t *testing.T) {
	addr := servers.Redis(t)
	tr := newTracker("redis")
	rdb := newRedis(t, addr, tr)
	ctx := context.Background()

	id, err := rdb.ClientID(ctx).Result()
	require.NoError(t, err)
	killRedisClient(t, addr, id)

	old := tr.Dialed()[0]
	before := old.State().BytesRead
	// Dialer.Probe reaches the conn inside the go-redis pool.
	require.Eventually(t, func() bool {
		p := tr.Probe()
		return len(p) == 1 && p[0].Liveness == trackedconn.LivenessPeerClosed
	}, 5*time.Second, pollEvery, "Dialer.Probe() never said peer-closed after CLIENT KILL")
	s := old.State()
	assert.True(t, s.PeerClosed, "Probe recorded the FIN")
	assert.False(t, s.Closed, "nobody closed the conn yet")
	assert.Equal(t, before, s.BytesRead, "Probe consumed nothing")

	// The pool's own check (a raw read through SyscallConn) finds the
	// dead conn, closes it and dials another.
	require.NoError(t, rdb.Ping(ctx).Err(), "PING after CLIENT KILL")
	require.Len(t, tr.Dialed(), 2, "the pool replaced the killed conn")
	s = old.State()
	assert.True(t, s.Closed, "the pool closed the killed conn")
	assert.Equal(t, trackedconn.CausePeer, s.Cause, "CLIENT KILL is the server's close")
	assert.Equal(t, map[string]uint64{"peer": 1}, tr.closedBy())
	assert.Equal(t, trackedconn.LivenessOpen, tr.Dialed()[1].Probe())
}

func TestRedisIdleTimeout(t *testing.T) {
	addr := servers.Redis(t, "--timeout", "1")
	tr := newTracker("redis")
	rdb := newRedis(t, addr, tr)
	ctx := context.Background()

	id, err := rdb.ClientID(ctx).Result()
	require.NoError(t, err)

	// Redis closes clients idle for more than 1 s; wait until this one is
	// gone from CLIENT LIST, asked on a conn of its own. Nobody probes.
	admin := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer admin.Close()
	require.Eventually(t, func() bool {
		list, err := admin.ClientList(ctx).Result()
		return err == nil && !containsID(list, id)
	}, 10*time.Second, pollEvery, "redis kept the idle client %d", id)

	old := tr.Dialed()[0]
	require.False(t, old.State().PeerClosed, "nothing read the FIN yet")
	require.NoError(t, rdb.Ping(ctx).Err(), "PING after the server's idle timeout")
	require.Len(t, tr.Dialed(), 2, "the pool replaced the timed-out conn")
	s := old.State()
	assert.True(t, s.Closed)
	assert.Equal(t, trackedconn.CausePeer, s.Cause,
		"redis ended the idle conn; the pool found it through SyscallConn and closed it")
	assert.True(t, s.PeerClosed, "Close saw the FIN")
	assert.Equal(t, map[string]uint64{"peer": 1}, tr.closedBy())
}

func containsID(clientList string, id int64) bool {
	want := "id=" + strconv.FormatInt(id, 10) + " "
	for i := 0; i+len(want) <= len(clientList); i++ {
		if clientList[i:i+len(want)] == want && (i == 0 || clientList[i-1] == '\n') {
			return true
		}
	}
	return false
}
