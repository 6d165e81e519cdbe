package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

// TestMain fails the tests if a goroutine outlives them: the demo, the
// proxy and its debug server must stop everything they start. Run as the
// demo's hidden vanished-peer command (the demo runs its own executable,
// here the test binary, in a private network namespace), it plays that.
// With CONNWATCH_TEST_MAIN=1 the test binary is the command itself, so
// that a test can run it as a process (to send it signals).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == vanishCmd {
		os.Exit(runVanish(os.Stdout, os.Stderr))
	}
	if os.Getenv("CONNWATCH_TEST_MAIN") == "1" {
		main()
	}
	goleak.VerifyTestMain(m)
}

// runCmd runs the command in-process and returns its exit code and output.
func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunDispatch(t *testing.T) {
	code, _, stderr := runCmd()
	assert.Equal(t, 2, code, "no command: exit code")
	assert.Contains(t, stderr, "Usage:", "no command: usage on stderr")

	for _, help := range []string{"help", "-h", "--help"} {
		code, stdout, _ := runCmd(help)
		assert.Equal(t, 0, code, "%s: exit code", help)
		assert.Contains(t, stdout, "connwatch demo", "%s: usage on stdout", help)
		assert.Contains(t, stdout, "connwatch proxy", "%s: usage on stdout", help)
	}

	code, _, stderr = runCmd("frobnicate", "-x")
	assert.Equal(t, 2, code, "unknown command: exit code")
	first, rest, _ := strings.Cut(stderr, "\n")
	assert.Equal(t, `connwatch: unknown command "frobnicate"`, first, "unknown command: first line")
	assert.Contains(t, rest, "Usage:", "unknown command: usage follows the error")
}

func TestSubcommandHelp(t *testing.T) {
	for _, cmd := range []string{"demo", "proxy"} {
		code, stdout, stderr := runCmd(cmd, "-h")
		assert.Equal(t, 0, code, "%s -h: exit code", cmd)
		assert.Contains(t, stdout, "Usage: connwatch "+cmd, "%s -h: usage on stdout", cmd)
		assert.Empty(t, stderr, "%s -h: stderr", cmd)
	}
}
