package main

import (
	"bytes"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Regression (issue 14 item 16): watchSignals must exit at the second signal, and stop
// at done without one.
func TestWatchSignals(t *testing.T) {
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	canceled := make(chan struct{})
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		watchSignals(sigs, done, func() { close(canceled) }, &stderr, func(code int) { exited <- code })
	}()
	sigs <- os.Interrupt
	<-canceled
	sigs <- syscall.SIGTERM
	select {
	case code := <-exited:
		assert.Equal(t, 128+int(syscall.SIGTERM), code, "exit code after a second SIGTERM")
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after the second signal")
	}
	<-returned
	assert.Contains(t, stderr.String(), "exiting at once", "stderr")

	// Without a signal, done ends the watch.
	done2 := make(chan struct{})
	returned2 := make(chan struct{})
	go func() {
		defer close(returned2)
		watchSignals(make(chan os.Signal), done2, func() { t.Error("canceled without a signal") }, &stderr,
			func(int) { t.Error("exited without a signal") })
	}()
	close(done2)
	<-returned2
	close(done)
}
