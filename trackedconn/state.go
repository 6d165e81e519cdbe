package trackedconn

import (
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// State is a snapshot of a tracked conn. Each field is read atomically; the
// snapshot as a whole is not taken under a lock, so two fields may come from
// instants a few nanoseconds apart (BytesRead may be ahead of LastReadAt).
type State struct {
	ID         uint64   // unique per process, never 0 (see Conn.ID)
	Name       string   // from WithName ("" if none)
	Side       Side     // SideUnknown (bare Wrap), SideServer (accepted), SideClient (dialed)
	LocalAddr  net.Addr // as the inner conn reported it at wrap time
	RemoteAddr net.Addr // as the inner conn reported it at wrap time

	OpenedAt    time.Time // when the conn was wrapped
	ClosedAt    time.Time // when Close was first called; zero while open
	LastReadAt  time.Time // last Read that moved bytes; zero until the first byte
	LastWriteAt time.Time // last Write that moved bytes; zero until the first byte

	BytesRead    int64 // every byte read, including zero-copy (splice) paths
	BytesWritten int64 // every byte written, including zero-copy (sendfile, splice) paths

	Closed     bool  // Close was called on this side
	PeerClosed bool  // a read saw io.EOF (or Probe saw FIN): the peer sends no more
	ReadShut   bool  // CloseRead was called on this side
	WriteShut  bool  // CloseWrite was called on this side
	Reset      bool  // the conn was reset (ECONNRESET/ECONNABORTED) or the pipe broke (EPIPE)
	TimedOut   bool  // the latest failed Read/Write hit a deadline; a later successful one clears it (see package doc for deadlines set in the past)
	Cause      Cause // why the conn ended; CauseNone while open

	// Origin is where the conn was wrapped. It is recorded only with
	// WithLeakDetection and is nil otherwise. Its first frame is the
	// function that called Wrap; for conns from package listener or
	// dialer, that is a function of theirs (Accept, DialContext), followed
	// by its callers. A dial made by http.Transport runs on the
	// Transport's own goroutine: the stack shows that goroutine, not the
	// request that caused the dial.
	Origin Origin

	closed bool // the rule of Conn.IsClosed, on the flags this snapshot was taken from
}

// Age returns how long the conn has been open: ClosedAt (or now, while open)
// minus OpenedAt.
func (s State) Age() time.Duration {
	end := s.ClosedAt
	if end.IsZero() {
		end = time.Now()
	}
	return end.Sub(s.OpenedAt)
}

// IsClosed reports whether no more I/O was possible when the snapshot was
// taken, by the rule of (*Conn).IsClosed. It is decided from the same
// atomic load as the flags: it needs the peer's FIN to have been read up to
// (every byte before it), which a PeerClosed set by Probe alone does not
// say.
func (s State) IsClosed() bool { return s.closed }

// Origin is the call stack that wrapped a conn, as program counters. It is
// symbolized only when asked for.
type Origin []uintptr

// Frames returns the frames of the stack, innermost first.
func (o Origin) Frames() *runtime.Frames { return runtime.CallersFrames(o) }

// String formats the stack one "function\n\tfile:line" entry per frame,
// like a goroutine dump.
func (o Origin) String() string {
	if len(o) == 0 {
		return ""
	}
	var b strings.Builder
	frames := o.Frames()
	for {
		f, more := frames.Next()
		b.WriteString(f.Function)
		b.WriteString("\n\t")
		b.WriteString(f.File)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(f.Line))
		b.WriteByte('\n')
		if !more {
			break
		}
	}
	return b.String()
}
