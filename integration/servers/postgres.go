package servers

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// PG is a PostgreSQL server in a temp dir, listening on 127.0.0.1 only,
// with its unix socket in the temp dir. As root it runs as the user
// postgres that Debian's package creates (PostgreSQL refuses root). It is
// small and does not fsync: for tests only.
type PG struct {
	Port int

	bin  string // dir of initdb and postgres
	dir  string // temp dir: data/, the unix socket, postgres.log
	cred *syscall.Credential
	p    *proc
}

// PGBinDirs lists Debian's /usr/lib/postgresql/*/bin, newest first.
func PGBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i, j := 0, len(dirs)-1; i < j; i, j = i+1, j-1 {
		dirs[i], dirs[j] = dirs[j], dirs[i]
	}
	return dirs
}

// PGBin returns the dir of postgres, initdb and pg_isready (Debian
// packages postgresql and postgresql-client), or skips or fails as Need
// does.
func PGBin(t TB) string {
	t.Helper()
	bin := filepath.Dir(Need(t, "postgres", "postgresql", PGBinDirs()...))
	Need(t, "initdb", "postgresql", bin)
	Need(t, "pg_isready", "postgresql-client", bin)
	return bin
}

// Postgres starts a PostgreSQL server for one test and stops it at
// cleanup.
func Postgres(t TB) *PG {
	t.Helper()
	pg, err := StartPostgres(PGBin(t))
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(pg.Close)
	return pg
}

// StartPostgres runs initdb into a new temp dir and starts postgres from
// bin on a free loopback port. Close stops it and removes the dir.
func StartPostgres(bin string) (*PG, error) {
	pg := &PG{bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("servers: running as root and no user postgres (Debian package postgresql): %w", err)
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
		return nil, fmt.Errorf("servers: initdb: %w\n%s", err, out)
	}
	for attempt := 0; ; attempt++ {
		if pg.Port, err = FreePort(); err == nil {
			err = pg.Start()
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

func (pg *PG) data() string { return filepath.Join(pg.dir, "data") }

// DSN returns a connection string for the database postgres as the
// superuser postgres, over TCP.
func (pg *PG) DSN() string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable connect_timeout=10", pg.Port)
}

// Addr returns the server's host:port.
func (pg *PG) Addr() string { return fmt.Sprintf("127.0.0.1:%d", pg.Port) }

func (pg *PG) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
	return cmd
}

// Start starts postgres (again, after Stop) and waits until it answers.
func (pg *PG) Start() error {
	if pg.p != nil {
		return nil
	}
	logPath := filepath.Join(pg.dir, "postgres.log")
	p, err := start(pg.command("postgres", "-D", pg.data(), "-p", strconv.Itoa(pg.Port),
		"-h", "127.0.0.1", "-k", pg.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "shared_buffers=8MB", "-c", "max_connections=30", "-c", "max_wal_senders=0",
		"-c", "wal_level=minimal", "-c", "autovacuum=off", "-c", "log_min_messages=warning"), logPath)
	if err != nil {
		return err
	}
	pg.p = p
	if waitPort(pg.Port, p.exited, 30*time.Second) && pg.ready(p) {
		return nil
	}
	pg.Stop()
	b, _ := os.ReadFile(logPath)
	return fmt.Errorf("servers: postgres did not start on 127.0.0.1:%d:\n%s", pg.Port, b)
}

// ready waits until pg_isready says the server accepts sessions.
func (pg *PG) ready(p *proc) bool {
	end := time.Now().Add(30 * time.Second)
	for time.Now().Before(end) {
		select {
		case <-p.exited:
			return false
		default:
		}
		cmd := pg.command("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-t", "2")
		if cmd.Run() == nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// Stop shuts the server down the fast way (SIGINT): every session gets
// FATAL 57P01 and its conn is closed.
func (pg *PG) Stop() {
	if pg.p != nil {
		pg.p.stop(syscall.SIGINT)
		pg.p = nil
	}
}

// Restart stops the server and starts it again on the same port.
func (pg *PG) Restart() error {
	pg.Stop()
	return pg.Start()
}

// Close stops the server and removes its temp dir.
func (pg *PG) Close() {
	pg.Stop()
	os.RemoveAll(pg.dir)
}
