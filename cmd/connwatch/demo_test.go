package main

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/netns"
)

func TestDemoText(t *testing.T) {
	code, stdout, stderr := runCmd("demo")
	require.Equal(t, 0, code, "demo exit code; stderr:\n%s", stderr)
	assert.Empty(t, stderr, "demo stderr")
	for _, sc := range scenarios {
		assert.Contains(t, stdout, "\n"+sc.Name+" ", "a table row for scenario %s", sc.Name)
	}
	for _, cause := range []string{"local", "peer", "reset", "timeout", "leak"} {
		assert.Contains(t, stdout, " "+cause+" ", "cause %s in the table", cause)
	}
	if runtime.GOOS != "windows" { // Probe answers unknown on Windows
		for _, l := range []string{"open", "readable", "peer-closed", "reset", "closed"} {
			assert.Contains(t, stdout, " "+l+"\n", "Probe answer %s", l)
		}
	}
	for _, header := range []string{"SCENARIO", "FIRST", "CAUSE", "FLAGS", "BYTES R/W", "AGE", "LIVENESS", "Counters", "opened"} {
		assert.Contains(t, stdout, header, "output has %q", header)
	}
	assert.Contains(t, stdout, "Leak: conn ", "the leak's origin")
	assert.Contains(t, stdout, "dialAndDrop", "the leak's origin names the function that dialed")
}

// TestDemoJSON checks what each scenario shows, side by side.
func TestDemoJSON(t *testing.T) {
	code, stdout, stderr := runCmd("demo", "-json")
	require.Equal(t, 0, code, "demo -json exit code; stderr:\n%s", stderr)
	var rep demoReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "demo -json output parses")

	type key struct{ scenario, side string }
	type want struct {
		first, cause string
		flags        []string
	}
	wants := map[key]want{
		{"local-close", "client"}: {"client", "local", []string{}},
		{"peer-close", "client"}:  {"client", "local", []string{}},
		{"peer-close", "server"}:  {"client", "peer", []string{"peer-closed"}},
		{"half-close", "client"}:  {"client", "peer", []string{"peer-closed", "write-shut"}},
		{"half-close", "server"}:  {"client", "peer", []string{"peer-closed", "write-shut"}},
		{"reset", "client"}:       {"server", "reset", []string{"reset"}},
		{"reset", "server"}:       {"server", "local", []string{}},
		{"timeout", "client"}:     {"client", "timeout", []string{"timed-out"}},
		{"timeout", "server"}:     {"client", "peer", []string{"peer-closed"}},
		{"leak", "client"}:        {"client", "leak", []string{}},
		{"leak", "server"}:        {"client", "peer", []string{"peer-closed"}},
		{"probe", "server"}:       {"server", "local", []string{}},
		{"probe-reset", "server"}: {"server", "local", []string{}},
	}
	if runtime.GOOS == "linux" || runtime.GOOS == "darwin" {
		// The server's Close finds the client's unread FIN.
		wants[key{"local-close", "server"}] = want{"client", "peer", []string{"peer-closed"}}
	}
	if runtime.GOOS != "windows" {
		wants[key{"probe", "client"}] = want{"server", "peer", []string{"peer-closed"}}
		wants[key{"probe-reset", "client"}] = want{"server", "reset", []string{"reset"}}
	}
	wants[key{"vanished-peer", "client"}] = want{"client", "stalled", []string{}}
	wants[key{"vanished-peer", "server"}] = want{"client", "local", []string{}}
	require.Len(t, rep.Conns, 2*len(rep.Scenarios), "two conns per scenario")
	vanished := slices.ContainsFunc(rep.Scenarios, func(sc scenario) bool { return sc.Name == "vanished-peer" })
	if netns.Available() == nil {
		require.True(t, vanished, "the vanished-peer scenario runs where a private network namespace can be made; skipped: %v", rep.Skipped)
	} else {
		require.False(t, vanished, "the vanished-peer scenario without a namespace")
		require.Len(t, rep.Skipped, 1, "one line says why vanished-peer was skipped")
		t.Log(rep.Skipped[0])
	}
	for _, r := range rep.Conns {
		w, ok := wants[key{r.Scenario, r.Side}]
		if !ok {
			continue
		}
		assert.Equal(t, w.first, r.ClosedFirst, "%s/%s: closed_first", r.Scenario, r.Side)
		assert.Equal(t, w.cause, r.Cause, "%s/%s: cause", r.Scenario, r.Side)
		assert.Equal(t, w.flags, r.Flags, "%s/%s: flags", r.Scenario, r.Side)
		assert.NotZero(t, r.ID, "%s/%s: id", r.Scenario, r.Side)
	}

	if runtime.GOOS != "windows" {
		var got []string
		for _, p := range rep.Probe {
			got = append(got, p.Scenario+": "+p.Liveness)
		}
		want := []string{
			"probe: open", "probe: readable", "probe: open", "probe: peer-closed", "probe: closed",
			"probe-reset: reset",
		}
		if vanished {
			want = append(want, "vanished-peer: open", "vanished-peer: stalled")
		}
		assert.Equal(t, want, got, "Probe answers, in order")
	}

	require.NotNil(t, rep.Leak, "leak report")
	assert.True(t, strings.Contains(rep.Leak.Origin, "dialAndDrop"), "leak origin %q names dialAndDrop", rep.Leak.Origin)
	total := rep.Counters.Total
	n := uint64(2 * len(scenarios))
	assert.Equal(t, n, total.Opened, "counters: opened")
	assert.Equal(t, n, total.Closed, "counters: closed")
	assert.Equal(t, uint64(1), total.Leaks, "counters: leaks")
	assert.Equal(t, uint64(1), total.ClosedBy["timeout"], "counters: closed by timeout")
	assert.Equal(t, uint64(1), total.ClosedBy["leak"], "counters: closed by leak")
	for _, g := range rep.Groups {
		assert.Zero(t, g.Active, "%s: no conn left live", g.Group)
	}
}

func TestDemoBadFlag(t *testing.T) {
	code, stdout, stderr := runCmd("demo", "-nope")
	assert.Equal(t, 2, code, "exit code")
	assert.Empty(t, stdout, "stdout")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line on stderr: %q", stderr)
}
