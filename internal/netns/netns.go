// Package netns runs a process in a private network namespace whose own
// loopback can be made to drop every packet, so that tests and the demo
// can make a peer vanish without a FIN or RST. Nothing in it sends a
// packet outside that namespace.
//
// It needs root (or CAP_SYS_ADMIN), unshare(1) from util-linux, and ip(8)
// and tc(8) from iproute2, on Linux.
package netns

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// envInside marks a process started by Command.
const envInside = "CONNWATCH_NETNS"

// Inside reports whether this process was started by Command, in its own
// network namespace.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Available returns nil if Command can make a namespace here, or an
// error that says why not.
func Available() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("netns: network namespaces are Linux's (this is %s)", runtime.GOOS)
	}
	for _, tool := range []string{"unshare", "ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("netns: %s not found (install util-linux and iproute2): %w", tool, err)
		}
	}
	out, err := exec.Command("unshare", "-n", "ip", "link", "set", "lo", "up").CombinedOutput()
	if err != nil {
		return fmt.Errorf("netns: cannot make a network namespace (root needed): %s: %w", strings.TrimSpace(string(out)), err)
	}
	return nil
}

// Command returns a command that runs name with args in a new network
// namespace, with its loopback up, and Inside true in it.
func Command(name string, args ...string) *exec.Cmd {
	script := `ip link set lo up && exec "$0" "$@"`
	cmd := exec.Command("unshare", append([]string{"-n", "sh", "-c", script, name}, args...)...)
	cmd.Env = append(os.Environ(), envInside+"=1")
	return cmd
}

// Blackhole makes the namespace's loopback drop every packet (on), or
// pass them again. It refuses to run outside a namespace made by Command,
// where it would cut the machine's own loopback.
func Blackhole(on bool) error {
	if !Inside() {
		return errors.New("netns: Blackhole outside a private namespace")
	}
	args := []string{"qdisc", "del", "dev", "lo", "root"}
	if on {
		args = []string{"qdisc", "add", "dev", "lo", "root", "blackhole"}
	}
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("netns: tc %s: %s: %w", strings.Join(args, " "), strings.TrimSpace(string(out)), err)
	}
	return nil
}
