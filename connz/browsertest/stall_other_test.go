//go:build !linux

package browsertest

import (
	"net"
	"runtime"
	"testing"

	"github.com/connwatch/connwatch/dialer"
)

// stalledConn makes no stalled conn: private network namespaces are Linux's.
func stalledConn(t *testing.T, d *dialer.Dialer) ([]net.Conn, string) {
	return nil, "no network namespaces on " + runtime.GOOS
}
