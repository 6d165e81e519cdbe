//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression (issue 14 item 16): a proxy started with SIGINT ignored (a background job of
// a non-interactive shell) ignored the second SIGINT: signal.Stop restored the ignore.
func TestProxySecondSIGINTWhenIgnoredAtStart(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to start the proxy with SIGINT ignored")
	}
	up := startUpstream(t, echo)
	// sh ignores SIGINT (trap ''), and exec hands the ignore down, as for
	// "connwatch proxy &" from a script.
	cmd := exec.Command(sh, "-c", `trap '' INT; exec "$@"`, "sh", os.Args[0],
		"proxy", "-listen", "127.0.0.1:0", "-to", up.addr(), "-log-format", "json", "-drain-timeout", "10m")
	cmd.Env = append(os.Environ(), "CONNWATCH_TEST_MAIN=1")
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err, "stderr pipe")
	require.NoError(t, cmd.Start(), "start the proxy")
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-waited
		}
	})

	lines := make(chan map[string]any, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				lines <- line
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	await := func(msg string) map[string]any {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				require.True(t, ok, "the proxy's stderr ended before %q", msg)
				if line["msg"] == msg {
					return line
				}
			case <-timeout:
				require.FailNow(t, "log line not found", "%q", msg)
			}
		}
	}
	addr := await("proxy listening")["listen"].(string)

	// A live pair keeps the drain waiting (for 10 minutes).
	c := echoOnce(t, addr)
	defer c.Close()

	require.NoError(t, cmd.Process.Signal(os.Interrupt), "first SIGINT")
	await("proxy draining")
	require.NoError(t, cmd.Process.Signal(os.Interrupt), "second SIGINT")
	select {
	case err := <-waited:
		var exit *exec.ExitError
		require.True(t, errors.As(err, &exit), "the proxy exits with a status: %v", err)
		assert.Equal(t, 128+int(syscall.SIGINT), exit.ExitCode(), "exit code")
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the proxy ignored the second SIGINT")
	}
	_, err = io.ReadAll(c)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the client's conn ended with the process: %v", err)
}
