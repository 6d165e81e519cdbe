package trackedconn_test

import "github.com/connwatch/connwatch/internal/benchcpu"

// processCPU returns the CPU time the process has used so far (user and
// system, every thread), or 0 if it cannot tell (on non-Unix systems).
var processCPU = benchcpu.Process
