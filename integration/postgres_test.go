package integration

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pgServer is a PostgreSQL server in a temp dir, run as an unprivileged
// user, listening on 127.0.0.1 only.
type pgServer struct {
	bin  string // dir of initdb and postgres
	dir  string // temp dir: data/, the unix socket, postgres.log
	port int
	cred *syscall.Credential // nil: run as this process's user

	cmd    *exec.Cmd
	exited chan struct{}
}

var shared struct {
	mu  sync.Mutex
	pg  *pgServer
	err error
}

// needPostgres returns the PostgreSQL server the tests share, starting it
// on first use; TestMain stops it.
func needPostgres(t *testing.T) *pgServer {
	t.Helper()
	bin := need(t, "postgres", "postgresql", pgBinDirs()...)
	need(t, "initdb", "postgresql", filepath.Dir(bin))
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.pg == nil && shared.err == nil {
		shared.pg, shared.err = newPG(filepath.Dir(bin))
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
		shared.pg.stop()
		os.RemoveAll(shared.pg.dir)
		shared.pg = nil
	}
}

// pgBinDirs lists Debian's /usr/lib/postgresql/*/bin, newest last.
func pgBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i, j := 0, len(dirs)-1; i < j; i, j = i+1, j-1 {
		dirs[i], dirs[j] = dirs[j], dirs[i]
	}
	return dirs
}

func newPG(bin string) (*pgServer, error) {
	pg := &pgServer{bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: use the user Debian's
		// package creates.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no user postgres (Debian package postgresql): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	dir, err := os.MkdirTemp("", "connwatch-pg-")
	if err != nil {
		return nil, err
	}
	pg.dir = dir
	if pg.cred != nil {
		if err := os.Chown(dir, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	initdb := pg.command("initdb", "-D", pg.data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		if pg.port, err = pickPort(); err == nil {
			err = pg.start()
		}
		if err == nil {
			return pg, nil
		}
		if attempt == 2 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

func (pg *pgServer) data() string { return filepath.Join(pg.dir, "data") }

// DSN returns a libpq connection string for the server's database postgres.
func (pg *pgServer) DSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=10", pg.port)
}

func (pg *pgServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

// start runs postgres, small and without fsync, and waits until it
// accepts.
func (pg *pgServer) start() error {
	logf, err := os.OpenFile(filepath.Join(pg.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	cmd := pg.command("postgres", "-D", pg.data(), "-p", strconv.Itoa(pg.port),
		"-h", "127.0.0.1", "-k", pg.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "shared_buffers=8MB", "-c", "max_connections=30", "-c", "max_wal_senders=0",
		"-c", "wal_level=minimal", "-c", "autovacuum=off", "-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	pg.cmd, pg.exited = cmd, exited
	if waitPort(pg.port, exited, 30*time.Second) && pg.ready() == nil {
		return nil
	}
	pg.stop()
	b, _ := os.ReadFile(filepath.Join(pg.dir, "postgres.log"))
	return fmt.Errorf("postgres did not accept on 127.0.0.1:%d:\n%s", pg.port, b)
}

// ready waits until the server answers queries, not only accepts.
func (pg *pgServer) ready() error {
	end := time.Now().Add(30 * time.Second)
	for {
		err := pgPing(pg.DSN())
		if err == nil || time.Now().After(end) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop shuts the server down the fast way (SIGINT): every session gets
// FATAL 57P01 and its conn is closed.
func (pg *pgServer) stop() {
	if pg.cmd == nil {
		return
	}
	pg.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-pg.exited:
	case <-time.After(30 * time.Second):
		pg.cmd.Process.Kill()
		<-pg.exited
	}
	pg.cmd = nil
}

// restart stops the server and starts it again on the same port.
func (pg *pgServer) restart(t *testing.T) {
	t.Helper()
	pg.stop()
	require.NoError(t, pg.start(), "restart postgres")
}

// psql returns the path of psql (Debian package postgresql-client).
func psqlPath(t *testing.T) string {
	return need(t, "psql", "postgresql-client", pgBinDirs()...)
}
