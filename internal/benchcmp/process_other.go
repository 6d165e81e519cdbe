//go:build !unix

package benchcmp

import "time"

// Process returns 0: the process's CPU time is read on Unix only.
func Process() time.Duration { return 0 }
