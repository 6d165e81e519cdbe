//go:build !linux

package main

import (
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// tcpStateClose reports false: the TCP state is read on Linux only.
func tcpStateClose(*trackedconn.Conn) bool { return false }

// kernelLastData reports false: the kernel's view is read on Linux only.
func kernelLastData(*trackedconn.Conn, time.Time) (time.Time, bool) { return time.Time{}, false }
