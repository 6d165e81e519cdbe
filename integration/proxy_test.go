package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/integration/servers"
	"github.com/connwatch/connwatch/listener"
	"github.com/connwatch/connwatch/trackedconn"
)

var connwatchBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// buildConnwatch builds ../cmd/connwatch once per test binary.
func buildConnwatch(t *testing.T) string {
	t.Helper()
	b := &connwatchBin
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "connwatch-bin-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "connwatch")
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/connwatch")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/connwatch: %w\n%s", err, out)
		}
	})
	require.NoError(t, b.err)
	return b.path
}

func removeConnwatchBin() {
	if connwatchBin.dir != "" {
		os.RemoveAll(connwatchBin.dir)
	}
}

// pairLog is one JSON line of connwatch proxy's log.
type pairLog struct {
	Msg              string `json:"msg"`
	Listen           string `json:"listen"`
	ClosedFirst      string `json:"closed_first"`
	ClientCause      string `json:"client_cause"`
	UpstreamCause    string `json:"upstream_cause"`
	ClientToUpstream int64  `json:"client_to_upstream"`
	UpstreamToClient int64  `json:"upstream_to_client"`
	ClientFlags      string `json:"client_flags"`
	UpstreamFlags    string `json:"upstream_flags"`
}

// runningProxy is a `connwatch proxy -log-format json` process.
type runningProxy struct {
	addr  string
	mu    sync.Mutex
	lines []pairLog
	raw   []string
}

// startProxy runs connwatch proxy in front of upstream and stops it at
// cleanup.
func startProxy(t *testing.T, upstream string) *runningProxy {
	t.Helper()
	cmd := exec.Command(buildConnwatch(t), "proxy", "-listen", "127.0.0.1:0", "-to", upstream, "-log-format", "json")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "start connwatch proxy")
	p := &runningProxy{}
	listening := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var l pairLog
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				l.Msg = "unparsed"
			}
			if l.Msg == "proxy listening" {
				listening <- l.Listen
			}
			p.mu.Lock()
			p.lines, p.raw = append(p.lines, l), append(p.raw, sc.Text())
			p.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("connwatch proxy log:\n%s", strings.Join(p.Raw(), "\n"))
		}
	})
	select {
	case p.addr = <-listening:
	case <-done:
		t.Fatalf("connwatch proxy exited before listening:\n%s", strings.Join(p.Raw(), "\n"))
	case <-time.After(30 * time.Second):
		t.Fatal("connwatch proxy did not say it listens")
	}
	return p
}

func (p *runningProxy) Raw() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.raw...)
}

// closes waits until the proxy has logged n "pair close" lines.
func (p *runningProxy) closes(t *testing.T, n int) []pairLog {
	t.Helper()
	var got []pairLog
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		got = got[:0]
		for _, l := range p.lines {
			if l.Msg == "pair close" {
				got = append(got, l)
			}
		}
		return len(got) >= n
	}, 20*time.Second, pollEvery, "the proxy did not log %d pair closes", n)
	return got
}

// psql runs psql through addr with one command and returns its output.
func runPsql(ctx context.Context, psql, addr, sql string) *exec.Cmd {
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.CommandContext(ctx, psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", host, "-p", port, "-U", "postgres", "-d", "postgres", "-c", sql)
	cmd.Env = append(os.Environ(), "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10")
	return cmd
}

func TestProxyPsql(t *testing.T) {
	pg := needPostgres(t)
	psql := psqlPath(t)
	p := startProxy(t, fmt.Sprintf("127.0.0.1:%d", pg.Port))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const size = 100000
	query := fmt.Sprintf("SELECT repeat('x', %d)", size)
	out, err := runPsql(ctx, psql, p.addr, query).CombinedOutput()
	require.NoError(t, err, "psql: %s", out)
	require.Equal(t, strings.Repeat("x", size)+"\n", string(out))

	l := p.closes(t, 1)[0]
	// psql sends Terminate and closes at once; the server, having read
	// Terminate, closes too. The proxy sees psql's EOF first unless the
	// server's comes in between (a busy machine): either side may be first,
	// never the proxy.
	assert.Contains(t, []string{"client", "upstream"}, l.ClosedFirst, "psql ended the session")
	assert.Equal(t, "peer", l.ClientCause)
	assert.Equal(t, "peer", l.UpstreamCause)
	assert.Greater(t, l.ClientToUpstream, int64(len(query)), "client->upstream: the startup packet and the query")
	assert.Less(t, l.ClientToUpstream, int64(len(query)+1000))
	assert.Greater(t, l.UpstreamToClient, int64(size), "upstream->client: the row of %d bytes and more", size)
	assert.Less(t, l.UpstreamToClient, int64(size+2000))
}

func TestProxyPsqlTerminated(t *testing.T) {
	pg := needPostgres(t)
	psql := psqlPath(t)
	admin := pgAdmin(t, pg)
	p := startProxy(t, fmt.Sprintf("127.0.0.1:%d", pg.Port))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmd := runPsql(ctx, psql, p.addr, "SELECT pg_sleep(60) /* connwatch-terminate-me */")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	var pid int64
	require.Eventually(t, func() bool {
		err := admin.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE query LIKE '%connwatch-terminate-me%' AND pid <> pg_backend_pid()").Scan(&pid)
		return err == nil
	}, 20*time.Second, pollEvery, "the psql session never showed up in pg_stat_activity")
	var ok bool
	require.NoError(t, admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
	require.True(t, ok)
	require.Error(t, cmd.Wait(), "psql fails when its session is terminated: %s", out.String())

	l := p.closes(t, 1)[0]
	assert.Equal(t, "upstream", l.ClosedFirst, "the server ended the session")
	assert.Equal(t, "peer", l.UpstreamCause, "pg_terminate_backend: the server closed")
	assert.Equal(t, "peer", l.ClientCause, "psql closed after the FATAL error")
	assert.Greater(t, l.UpstreamToClient, int64(len("terminating connection due to administrator command")))
}

func TestProxyCurlKeepAlive(t *testing.T) {
	curl := servers.Need(t, "curl", "curl")
	var srvLog stateLog
	ln, err := listener.Listen("tcp", "127.0.0.1:0", trackedconn.WithHook(&srvLog))
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 1000)+r.URL.Path)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p := startProxy(t, ln.Addr().String())

	const n = 5
	args := []string{"-sS", "--max-time", "30", "--http1.1"}
	for i := range n {
		args = append(args, fmt.Sprintf("http://%s/r%d", p.addr, i))
	}
	out, err := exec.Command(curl, args...).CombinedOutput()
	require.NoError(t, err, "curl: %s", out)
	require.Equal(t, n, strings.Count(string(out), strings.Repeat("y", 1000)), "curl got every response")

	l := p.closes(t, 1)[0]
	require.Eventually(t, func() bool { return len(srvLog.Closed()) == 1 }, 10*time.Second, pollEvery, "the server conn did not close")
	s := srvLog.Closed()[0]
	assert.EqualValues(t, 1, ln.Stats().Opened, "curl's %d requests: one conn through the proxy", n)
	assert.Len(t, p.closes(t, 1), 1, "one pair")
	assert.Equal(t, "client", l.ClosedFirst, "curl closed when done")
	assert.Equal(t, "peer", l.ClientCause)
	assert.Equal(t, "peer", l.UpstreamCause, "the server closed after the proxy's half-close")
	assert.Equal(t, trackedconn.CausePeer, s.Cause, "server conn: the proxy's half-close")
	// The proxy's counts each way are the server's own.
	assert.Equal(t, s.BytesRead, l.ClientToUpstream, "client->upstream bytes")
	assert.Equal(t, s.BytesWritten, l.UpstreamToClient, "upstream->client bytes")
}
