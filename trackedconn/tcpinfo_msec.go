//go:build linux || darwin

package trackedconn

import "time"

// msec converts the kernel's millisecond counts (Linux's TCP_INFO,
// darwin's TCP_CONNECTION_INFO).
func msec(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }
