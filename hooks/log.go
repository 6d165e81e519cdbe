package hooks

import (
	"context"
	"log/slog"
	"net"
	"strings"

	"github.com/connwatch/connwatch/trackedconn"
)

// Log returns a hook that logs conn events to l, one structured line per
// event, with the message "conn " followed by the event's name ("conn open",
// "conn close", ...):
//
//   - EventOpen and EventClose at slog.LevelInfo, except an EventClose with
//     Cause stalled (the peer vanished) at slog.LevelWarn;
//   - EventPeerClosed, EventReadShut, EventWriteShut and EventReset at
//     slog.LevelDebug, since EventClose repeats them in its flags;
//   - EventLeak at slog.LevelWarn, with the stack that opened the conn.
//
// Every line has the attributes id, side, name, local and remote (addresses
// as strings). Close and leak lines add cause, age, read and written (byte
// counts) and flags, the set State booleans among "peer-closed",
// "read-shut", "write-shut", "reset" and "timed-out", joined with commas.
//
// If l is nil, Log uses slog.Default() as of each event. Lines below the
// logger's level cost one Enabled call.
func Log(l *slog.Logger) trackedconn.Hook {
	return logHook{l}
}

type logHook struct{ l *slog.Logger }

func (h logHook) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	l := h.l
	if l == nil {
		l = slog.Default()
	}
	level := slog.LevelDebug
	switch e {
	case trackedconn.EventOpen:
		level = slog.LevelInfo
	case trackedconn.EventClose:
		level = slog.LevelInfo
		if s.Cause == trackedconn.CauseStalled {
			level = slog.LevelWarn
		}
	case trackedconn.EventLeak:
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.Uint64("id", s.ID),
		slog.String("side", s.Side.String()),
		slog.String("name", s.Name),
		slog.String("local", addrString(s.LocalAddr)),
		slog.String("remote", addrString(s.RemoteAddr)),
	)
	if e == trackedconn.EventClose || e == trackedconn.EventLeak {
		attrs = append(attrs,
			slog.String("cause", s.Cause.String()),
			slog.Duration("age", s.Age()),
			slog.Int64("read", s.BytesRead),
			slog.Int64("written", s.BytesWritten),
			slog.String("flags", strings.Join(Flags(s), ",")),
		)
	}
	if e == trackedconn.EventLeak && len(s.Origin) > 0 {
		attrs = append(attrs, slog.String("origin", s.Origin.String()))
	}
	l.LogAttrs(ctx, level, logMessage(e), attrs...)
}

var logMessages = func() (m [numEvents]string) {
	for i := range m {
		m[i] = "conn " + trackedconn.Event(i).String()
	}
	return m
}()

func logMessage(e trackedconn.Event) string {
	if int(e) < numEvents {
		return logMessages[e]
	}
	return "conn " + e.String()
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Flags names the State booleans that are set, other than Closed, in a
// fixed order: "peer-closed", "read-shut", "write-shut", "reset",
// "timed-out". Log prints them joined with commas; it is never nil.
func Flags(s trackedconn.State) []string {
	out := []string{}
	for _, f := range [...]struct {
		set  bool
		name string
	}{
		{s.PeerClosed, "peer-closed"},
		{s.ReadShut, "read-shut"},
		{s.WriteShut, "write-shut"},
		{s.Reset, "reset"},
		{s.TimedOut, "timed-out"},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}
