package integration

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/integration/servers"
	"github.com/connwatch/connwatch/trackedconn"
)

// pgOpen opens a pool of kind k through a new tracker, closed at cleanup.
func pgOpen(t *testing.T, pg *servers.PG, open func(string, *tracker, int, map[string]string) (pgPool, error), max int, params map[string]string) (pgPool, *tracker) {
	t.Helper()
	tr := newTracker("postgres")
	p, err := open(pg.DSN(), tr, max, params)
	require.NoError(t, err, "open pool")
	t.Cleanup(p.Close)
	return p, tr
}

// pgAdmin returns an untracked conn for killing sessions, closed at cleanup.
func pgAdmin(t *testing.T, pg *servers.PG) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.DSN())
	require.NoError(t, err, "admin conn")
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

// waitBackendGone waits until the backend pid has left pg_stat_activity:
// the server has closed its socket.
func waitBackendGone(t *testing.T, admin *pgx.Conn, pid int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		err := admin.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n)
		return err == nil && n == 0
	}, 15*time.Second, pollEvery, "backend %d is still there", pid)
}

// localOrTerminated are the causes of a healthy conn the pool closes: pgx
// sends Terminate and closes at once, and the server closes on reading
// Terminate. Most often pgx's close comes first (local); on a busy machine
// the server's FIN may already be there when Close looks (peer).
var localOrTerminated = []trackedconn.Cause{trackedconn.CauseLocal, trackedconn.CausePeer}

// idleOverASecond sleeps until the pool's conns have been idle for more
// than a second since used, so that pgxpool and the pgx stdlib driver both
// ping a conn before reuse (their default rule).
func idleOverASecond(used time.Time) {
	time.Sleep(time.Until(used.Add(1200 * time.Millisecond)))
}

func TestPostgresPoolReuse(t *testing.T) {
	pg := needPostgres(t)
	for _, k := range pgPoolKinds {
		t.Run(k.name, func(t *testing.T) {
			p, tr := pgOpen(t, pg, k.open, 4, nil)
			ctx := context.Background()
			const n = 50
			for i := range n {
				got, err := p.Int(ctx, "SELECT $1::int8 + 1", int64(i))
				require.NoError(t, err, "query %d", i)
				require.EqualValues(t, i+1, got)
			}
			st := tr.Stats()
			assert.EqualValues(t, 1, st.Opened, "%d sequential queries dial once", n)
			assert.Greater(t, st.BytesRead, uint64(n*5), "bytes read count every reply")
			assert.Equal(t, trackedconn.LivenessOpen, tr.Dialed()[0].Probe(), "the pooled conn is open and idle")

			p.Close()
			assert.Zero(t, tr.Stats().Active, "Close of the pool closes its conns")
			assert.Contains(t, localOrTerminated, tr.Dialed()[0].State().Cause, "the pool closed a healthy conn itself")
		})
	}
}

func TestPostgresTerminateBackend(t *testing.T) {
	pg := needPostgres(t)
	admin := pgAdmin(t, pg)
	for _, k := range pgPoolKinds {
		t.Run(k.name, func(t *testing.T) {
			p, tr := pgOpen(t, pg, k.open, 1, nil)
			ctx := context.Background()
			pid, err := p.Int(ctx, "SELECT pg_backend_pid()")
			require.NoError(t, err)
			used := time.Now()

			var ok bool
			require.NoError(t, admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
			require.True(t, ok, "pg_terminate_backend(%d)", pid)
			waitBackendGone(t, admin, pid)
			idleOverASecond(used)

			// The pool pings the idle conn, reads FATAL 57P01, closes it
			// and dials another.
			pid2, err := p.Int(ctx, "SELECT pg_backend_pid()")
			require.NoError(t, err, "query after pg_terminate_backend")
			require.NotEqual(t, pid, pid2)
			require.Len(t, tr.Dialed(), 2, "the pool replaced the terminated conn")

			s := tr.Dialed()[0].State()
			assert.True(t, s.Closed, "the pool closed the terminated conn")
			assert.Equal(t, trackedconn.CausePeer, s.Cause, "pg_terminate_backend is the server's close")
			assert.Equal(t, map[string]uint64{"peer": 1}, tr.closedBy(), "closes by cause")
			assert.EqualValues(t, 1, tr.Stats().Active)
		})
	}
}

func TestPostgresIdleSessionTimeout(t *testing.T) {
	pg := needPostgres(t)
	admin := pgAdmin(t, pg)
	for _, k := range pgPoolKinds {
		t.Run(k.name, func(t *testing.T) {
			p, tr := pgOpen(t, pg, k.open, 1, map[string]string{"idle_session_timeout": "500"})
			ctx := context.Background()
			pid, err := p.Int(ctx, "SELECT pg_backend_pid()")
			require.NoError(t, err)
			used := time.Now()

			// The server ends the session after 500 ms idle. Nobody probes.
			waitBackendGone(t, admin, pid)
			idleOverASecond(used)
			require.False(t, tr.Dialed()[0].State().PeerClosed, "nothing read the FIN yet")

			_, err = p.Int(ctx, "SELECT 1")
			require.NoError(t, err, "query after idle_session_timeout")
			require.Len(t, tr.Dialed(), 2, "the pool replaced the timed-out conn")
			s := tr.Dialed()[0].State()
			assert.True(t, s.Closed)
			assert.Equal(t, trackedconn.CausePeer, s.Cause, "idle_session_timeout is the server's close")
			assert.Equal(t, uint64(1), tr.closedBy()["peer"], "closes by cause")
		})
	}
}

func TestPostgresRestartUnderPool(t *testing.T) {
	pg := needPostgres(t)
	for _, k := range pgPoolKinds {
		t.Run(k.name, func(t *testing.T) {
			const n = 3
			p, tr := pgOpen(t, pg, k.open, n, nil)
			ctx := context.Background()
			require.NoError(t, p.Hold(ctx, n), "open %d conns", n)
			used := time.Now()
			old := tr.Dialed()
			require.Len(t, old, n)

			require.NoError(t, pg.Restart(), "restart postgres")
			idleOverASecond(used)

			for i := range 2 * n {
				got, err := p.Int(ctx, "SELECT $1::int8", int64(i))
				require.NoError(t, err, "query %d after the restart", i)
				require.EqualValues(t, i, got)
			}
			require.NoError(t, p.Hold(ctx, n), "hold %d conns after the restart", n)
			p.Close()

			for i, c := range old {
				s := c.State()
				assert.True(t, s.Closed, "old conn %d closed", i)
				assert.Contains(t, []trackedconn.Cause{trackedconn.CausePeer, trackedconn.CauseReset}, s.Cause,
					"old conn %d: the server's shutdown ended it, Cause = %v", i, s.Cause)
			}
			for i, c := range tr.Dialed()[n:] {
				assert.Contains(t, localOrTerminated, c.State().Cause, "new conn %d: closed by the pool", i)
			}
			assert.Zero(t, tr.Stats().Active, "no conn leaked")
			assert.Empty(t, tr.Conns())
		})
	}
}
