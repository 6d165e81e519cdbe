package netns

import (
	"bytes"
	"os"
	"regexp"
	"testing"
)

// RunTest runs the calling top-level test again in a private namespace and
// reports whether the caller is already in one: the test body runs only
// where it returns true.
//
//	if !netns.RunTest(t) {
//		return
//	}
//	... netns.Blackhole(true) ...
//
// Where no namespace can be made the test is skipped, with the reason,
// except under CI=true, where it fails: a skip there would hide a missing
// install step.
func RunTest(t *testing.T) bool {
	t.Helper()
	if Inside() {
		return true
	}
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (CI must run this test)", err)
		}
		t.Skipf("SKIP: %v", err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("netns: the test binary: %v", err)
	}
	cmd := Command(exe, "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
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
