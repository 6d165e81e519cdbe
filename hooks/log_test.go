package hooks_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/hooks"
	"github.com/connwatch/connwatch/trackedconn"
)

// jsonLines decodes one JSON object per line.
func jsonLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), "log line %q", line)
		out = append(out, m)
	}
	return out
}

func TestLogOpenClose(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, peer := pipe(t, trackedconn.WithHook(hooks.Log(l)), trackedconn.WithName("db"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = peer.Read(make([]byte, 2))
		_ = peer.Close()
	}()
	_, err := c.Write([]byte("hi"))
	require.NoError(t, err)
	<-done
	peerClose(t, c, peer)
	require.NoError(t, c.Close())

	lines := jsonLines(t, &buf)
	require.Len(t, lines, 3, "open, peer-closed and close lines")
	var msgs, levels []any
	for _, m := range lines {
		msgs = append(msgs, m["msg"])
		levels = append(levels, m["level"])
		assert.Equal(t, float64(c.ID()), m["id"], "id")
		assert.Equal(t, "db", m["name"], "name")
		assert.Equal(t, "unknown", m["side"], "side")
		assert.Equal(t, "pipe", m["local"], "local")
		assert.Equal(t, "pipe", m["remote"], "remote")
	}
	assert.Equal(t, []any{"conn open", "conn peer-closed", "conn close"}, msgs)
	assert.Equal(t, []any{"INFO", "DEBUG", "INFO"}, levels)
	closeLine := lines[2]
	assert.Equal(t, "peer", closeLine["cause"], "cause")
	assert.Equal(t, "peer-closed", closeLine["flags"], "flags")
	assert.Equal(t, float64(2), closeLine["written"], "written")
	assert.Equal(t, float64(0), closeLine["read"], "read")
	assert.Contains(t, closeLine, "age")
	assert.NotContains(t, lines[0], "cause", "the open line has no close fields")
}

func TestLogInfoLevelSkipsDebug(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil)) // Info
	c, peer := pipe(t, trackedconn.WithHook(hooks.Log(l)))
	peerClose(t, c, peer)
	require.NoError(t, c.Close())
	var msgs []any
	for _, m := range jsonLines(t, &buf) {
		msgs = append(msgs, m["msg"])
	}
	assert.Equal(t, []any{"conn open", "conn close"}, msgs)
}

func TestLogNilUsesDefault(t *testing.T) {
	h := &captureHandler{}
	setDefaultLogger(t, h)
	c, _ := pipe(t, trackedconn.WithHook(hooks.Log(nil)))
	require.NoError(t, c.Close())
	require.Len(t, h.records, 2, "open and close through slog.Default()")
	assert.Equal(t, "conn close", h.records[1].Message)
	assert.Equal(t, "local", attrs(h.records[1])["cause"].String())
}

func TestLogLeak(t *testing.T) {
	c, _ := pipe(t, trackedconn.WithLeakDetection())
	st := c.State()
	require.NotEmpty(t, st.Origin, "Origin with leak detection")
	st.Cause = trackedconn.CauseLeak

	h := &captureHandler{}
	hooks.Log(slog.New(h)).ConnEvent(trackedconn.EventLeak, st)
	require.Len(t, h.records, 1)
	r := h.records[0]
	assert.Equal(t, slog.LevelWarn, r.Level)
	assert.Equal(t, "conn leak", r.Message)
	a := attrs(r)
	assert.Equal(t, "leak", a["cause"].String())
	pc, _, _, _ := runtime.Caller(0)
	assert.Contains(t, a["origin"].String(), runtime.FuncForPC(pc).Name(), "origin names the test that wrapped the conn")
}

// A conn that ended because its peer vanished is worth a warning.
func TestLogStalledCloseWarns(t *testing.T) {
	h := &captureHandler{}
	l := hooks.Log(slog.New(h))
	l.ConnEvent(trackedconn.EventClose, trackedconn.State{Closed: true, Cause: trackedconn.CauseStalled})
	l.ConnEvent(trackedconn.EventClose, trackedconn.State{Closed: true, Cause: trackedconn.CausePeer})
	require.Len(t, h.records, 2)
	assert.Equal(t, slog.LevelWarn, h.records[0].Level, "close with Cause stalled")
	assert.Equal(t, "stalled", attrs(h.records[0])["cause"].String())
	assert.Equal(t, slog.LevelInfo, h.records[1].Level, "close with Cause peer")
}

func TestFlags(t *testing.T) {
	assert.Equal(t, []string{}, hooks.Flags(trackedconn.State{Closed: true}), "Closed is not among the flags")
	assert.Equal(t, []string{"peer-closed", "read-shut", "write-shut", "reset", "timed-out"},
		hooks.Flags(trackedconn.State{PeerClosed: true, ReadShut: true, WriteShut: true, Reset: true, TimedOut: true}), "every flag, in order")
}
