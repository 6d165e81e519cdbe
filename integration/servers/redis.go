package servers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
)

// Redis runs redis-server (Debian package redis-server) on a free loopback
// port, without persistence, with extra config arguments such as
// "--timeout", "1", and stops it at cleanup. It returns the address.
func Redis(t TB, extra ...string) string {
	t.Helper()
	bin := Need(t, "redis-server", "redis-server")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "redis.log")
	for attempt := 0; ; attempt++ {
		port, err := FreePort()
		if err != nil {
			t.Fatalf("servers: %v", err)
		}
		args := append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--dir", dir, "--save", "", "--appendonly", "no",
			"--protected-mode", "no", "--hz", "20",
		}, extra...)
		p, err := start(exec.Command(bin, args...), logPath)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if waitPort(port, p.exited, 10e9) {
			t.Cleanup(func() { p.stop(syscall.SIGTERM) })
			return fmt.Sprintf("127.0.0.1:%d", port)
		}
		p.stop(syscall.SIGKILL)
		if attempt == 2 {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("servers: redis-server did not start on 127.0.0.1:%d:\n%s", port, b)
		}
	}
}
