package integration

import (
	"sync"
	"testing"

	"github.com/connwatch/connwatch/integration/servers"
)

var shared struct {
	mu  sync.Mutex
	pg  *servers.PG
	err error
}

// needPostgres returns the PostgreSQL server the tests share, starting it
// on first use; TestMain stops it.
func needPostgres(t *testing.T) *servers.PG {
	t.Helper()
	bin := servers.PGBin(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil && shared.err == nil {
		shared.pg, shared.err = servers.StartPostgres(bin)
	}
	if shared.err != nil {
		t.Fatalf("integration: PostgreSQL did not start: %v", shared.err)
	}
	return shared.pg
}

func stopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg != nil {
		shared.pg.Close()
		shared.pg = nil
	}
}

// psqlPath returns the path of psql (Debian package postgresql-client).
func psqlPath(t *testing.T) string {
	return servers.Need(t, "psql", "postgresql-client", servers.PGBinDirs()...)
}
