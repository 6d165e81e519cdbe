package trackedconn

import "strconv"

// Side says which end of the connection the tracked conn is.
type Side uint8

const (
	// SideUnknown is a conn wrapped with Wrap without WithSide.
	SideUnknown Side = iota
	// SideServer is a conn handed out by a listener (accepted).
	SideServer
	// SideClient is a conn handed out by a dialer (dialed).
	SideClient
)

var sideNames = [...]string{"unknown", "server", "client"}

// String returns "unknown", "server" or "client".
func (s Side) String() string { return enumString(sideNames[:], uint8(s), "Side") }

// Cause says why a conn ended. It is CauseNone while the conn is open and is
// decided once, at the first Close (or when the leak detector reclaims the
// conn); it never changes afterwards.
type Cause uint8

const (
	// CauseNone means the conn has not been closed yet.
	CauseNone Cause = iota
	// CauseLocal means this side closed the conn with nothing wrong seen before.
	CauseLocal
	// CausePeer means the peer closed first: a read saw io.EOF, or Probe or
	// the first Close found its FIN.
	CausePeer
	// CauseReset means the conn was reset (ECONNRESET, ECONNABORTED) or the
	// pipe broke (EPIPE) before Close, as an operation, Probe or the first
	// Close found.
	CauseReset
	// CauseTimeout means the last failed Read or Write before Close hit a
	// deadline, and no EOF, reset or other error was seen.
	CauseTimeout
	// CauseError means another I/O error (a TLS alert, EHOSTUNREACH, ...)
	// was seen before Close.
	CauseError
	// CauseLeak means the conn became unreachable without Close and the leak
	// detector closed it (see WithLeakDetection).
	CauseLeak
	// CauseStalled means the peer had stopped answering: a Read or Write
	// failed with ETIMEDOUT (retransmissions, keepalive or TCP_USER_TIMEOUT
	// gave up), or the socket was stalled (see LivenessStalled) when Close
	// looked at it.
	CauseStalled
)

var causeNames = [...]string{"none", "local", "peer", "reset", "timeout", "error", "leak", "stalled"}

// String returns "none", "local", "peer", "reset", "timeout", "error",
// "leak" or "stalled".
func (c Cause) String() string { return enumString(causeNames[:], uint8(c), "Cause") }

// Liveness is the answer of Probe.
type Liveness uint8

const (
	// LivenessUnknown means nothing could be learned without blocking or
	// consuming data (no descriptor, Windows, a read-shut conn, ...).
	LivenessUnknown Liveness = iota
	// LivenessOpen means the socket is open and has nothing to read.
	LivenessOpen
	// LivenessReadable means data is waiting to be read. The peer may have
	// closed behind that data (see State.PeerClosed).
	LivenessReadable
	// LivenessPeerClosed means the peer sent FIN: reads return io.EOF.
	LivenessPeerClosed
	// LivenessReset means the connection was reset.
	LivenessReset
	// LivenessClosed means Close was called on this side.
	LivenessClosed
	// LivenessStalled means the kernel shows that the peer stopped
	// answering (TCP only; see the package doc for the rule): sent data
	// waits for an acknowledgment past a retransmission timeout, or
	// keepalive or zero-window probes go unanswered. It is not terminal:
	// the conn reads open again when the path comes back. It is also the
	// answer once the kernel gave up (ETIMEDOUT).
	LivenessStalled
)

var livenessNames = [...]string{"unknown", "open", "readable", "peer-closed", "reset", "closed", "stalled"}

// String returns "unknown", "open", "readable", "peer-closed", "reset",
// "closed" or "stalled".
func (l Liveness) String() string { return enumString(livenessNames[:], uint8(l), "Liveness") }

// Event is a lifecycle transition reported to hooks. Each event fires at most
// once per conn.
type Event uint8

const (
	// EventOpen fires once when the conn is wrapped (accepted, dialed).
	EventOpen Event = iota
	// EventPeerClosed fires at the first io.EOF seen by a read (or by Probe).
	EventPeerClosed
	// EventReadShut fires at the first successful CloseRead.
	EventReadShut
	// EventWriteShut fires at the first successful CloseWrite.
	EventWriteShut
	// EventReset fires at the first reset or broken pipe.
	EventReset
	// EventClose fires exactly once, after the inner Close returned, with
	// the final State. It is the last event of a conn.
	EventClose
	// EventLeak fires when the leak detector reclaims a conn that became
	// unreachable without Close; EventClose follows it.
	EventLeak
)

var eventNames = [...]string{"open", "peer-closed", "read-shut", "write-shut", "reset", "close", "leak"}

// String returns "open", "peer-closed", "read-shut", "write-shut", "reset",
// "close" or "leak".
func (e Event) String() string { return enumString(eventNames[:], uint8(e), "Event") }

func enumString(names []string, v uint8, typ string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}
