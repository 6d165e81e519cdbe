//go:build !linux

package trackedconn

import (
	"net"
	"time"
)

// setUserTimeout does nothing: TCP_USER_TIMEOUT is Linux's.
func setUserTimeout(tc *net.TCPConn, d time.Duration) error { return nil }
