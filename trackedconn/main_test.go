package trackedconn_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// test closes the conns it opens and waits for the goroutines it starts.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
