// Package netnstest re-runs a test in a private network namespace (see
// internal/netns). It is apart from netns so that the connwatch binary,
// which imports netns, does not link package testing.
package netnstest

import (
	"bytes"
	"os"
	"regexp"
	"testing"

	"github.com/connwatch/connwatch/internal/netns"
)

// RunTest runs the calling top-level test again in a private namespace and
// reports whether the caller is already in one: the test body runs only
// where it returns true.
//
//	if !netnstest.RunTest(t) {
//		return
//	}
//	... netns.Blackhole(true) ...
//
// Where no namespace can be made the test is skipped, with the reason,
// except under CI=true, where it fails: a skip there would hide a missing
// install step.
func RunTest(t *testing.T) bool {
	t.Helper()
	if netns.Inside() {
		return true
	}
	if err := netns.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI must run this test)", err)
		}
		t.Skipf("SKIP: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("netns: the test binary: %v", err)
	}
	cmd := netns.Command(exe, "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a private network namespace:\n%s", out)
	if err != nil {
		t.Fatalf("%s in a private network namespace: %v", t.Name(), err)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name()+" ")) {
		t.Fatalf("%s did not pass in the private network namespace (skipped, or not run)", t.Name())
	}
	return false
}
