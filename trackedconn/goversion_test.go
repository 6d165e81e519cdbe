package trackedconn_test

import (
	"runtime"
	"strconv"
	"strings"
)

// goMinor returns the minor version of the Go release running the test
// (25 for go1.25.0), or a large number for a development build.
func goMinor() int {
	v, ok := strings.CutPrefix(runtime.Version(), "go1.")
	if !ok {
		return 1 << 30 // "devel ...": newer than any release
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 1 << 30
	}
	return n
}

// leakWrapAllocs is the allocation count of Wrap+Close with leak
// detection: the stack capture plus runtime.AddCleanup, which costs one
// allocation more on Go 1.25 (the oldest Go that go.mod allows) than on
// Go 1.26.
func leakWrapAllocs() float64 {
	if goMinor() <= 25 {
		return 6
	}
	return 5
}
