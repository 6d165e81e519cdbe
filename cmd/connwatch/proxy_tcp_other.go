//go:build !linux

package main

import (
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// kernelLastData reports false: only Linux's TCPInfo has the times of the
// last data.
func kernelLastData(*trackedconn.Conn, time.Time) (time.Time, bool) { return time.Time{}, false }
