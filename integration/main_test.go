package integration

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopShared() // the PostgreSQL server the tests share
	removeConnwatchBin()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("integration: goroutine leak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}
