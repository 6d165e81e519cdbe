package main

import (
	"time"

	"github.com/connwatch/connwatch/trackedconn"
)

// kernelLastData returns when c's socket last sent or received data, as
// the kernel saw it (bytes that a splice moves are seen at once), or false.
func kernelLastData(c *trackedconn.Conn, now time.Time) (time.Time, bool) {
	info, err := c.TCPInfo()
	if err != nil {
		return time.Time{}, false
	}
	return now.Add(-min(info.LastDataRecv, info.LastDataSent)), true
}
