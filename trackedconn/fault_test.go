package trackedconn_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/faultconn"
	"github.com/connwatch/connwatch/trackedconn"
)

// The fault tests drive a tracked conn over a faultconn.Conn through random
// schedules of operations and injected faults, and after every step compare
// the conn with an independent model of DESIGN.md's rules: the events fired
// and the State at each, the flags, IsClosed, Probe, the Cause, the byte
// counters and the Group's counts.
//
// FAULT_SEED=n reruns the schedules starting at seed n (a failure names the
// seed of its schedule); FAULT_SCHEDULES and FAULT_STEPS change how many
// schedules run and how long each is.

const (
	faultSchedules = 2000 // schedules in the default run
	faultSteps     = 30   // steps per schedule
	faultBatch     = 50   // schedules sharing one Group
)

// faultKind is the model's class of an injected error, decided by hand for
// each error below, not by errclass.
type faultKind uint8

const (
	kindNone     faultKind = iota
	kindEOF                // the peer's EOF (on a read)
	kindReset              // reset, aborted, broken pipe
	kindDeadline           // a deadline set on the conn passed
	kindClosed             // this side closed the conn
	kindOther              // any other error
	kindGaveUp             // ETIMEDOUT: the kernel gave up on the peer
)

var faultKindNames = [...]string{"ok", "eof", "reset", "deadline", "closed", "other"}

func (k faultKind) String() string { return faultKindNames[k] }

// faultErr is an error to inject, with its class in the model.
type faultErr struct {
	name string
	kind faultKind
	make func(op string) error // op is "read", "write", "close", ...
}

var (
	errFaultBoom = errors.New("fault: boom")
	errTLSRecord = tls.RecordHeaderError{Msg: "fault: not a TLS record"}
)

// faultIOErrs are the errors Read and Write may fail with.
var faultIOErrs = []faultErr{
	{"io.EOF", kindEOF, func(string) error { return io.EOF }},
	{"io.ErrUnexpectedEOF", kindEOF, func(string) error { return io.ErrUnexpectedEOF }},
	{"wrapped EOF", kindEOF, func(op string) error { return fmt.Errorf("fault: %s: %w", op, io.EOF) }},
	{"ECONNRESET", kindReset, faultconn.Reset},
	{"ECONNABORTED", kindReset, func(op string) error { return faultconn.SyscallError(op, faultconn.ErrnoAborted) }},
	{"EPIPE", kindReset, func(op string) error { return faultconn.SyscallError(op, faultconn.ErrnoBrokenPipe) }},
	{"deadline", kindDeadline, faultconn.Timeout},
	{"os.ErrDeadlineExceeded", kindDeadline, func(string) error { return os.ErrDeadlineExceeded }},
	{"wrapped deadline", kindDeadline, func(op string) error { return fmt.Errorf("fault: %s: %w", op, os.ErrDeadlineExceeded) }},
	{"net.ErrClosed", kindClosed, faultconn.Closed},
	{"io.ErrClosedPipe", kindClosed, func(string) error { return io.ErrClosedPipe }},
	{"ETIMEDOUT", kindGaveUp, func(op string) error { return faultconn.SyscallError(op, faultconn.ErrnoTimedOut) }},
	{"boom", kindOther, func(op string) error { return faultconn.OpError(op, errFaultBoom) }},
	{"context.Canceled", kindOther, func(string) error { return context.Canceled }},
	{"tls record", kindOther, func(string) error { return errTLSRecord }},
}

// faultCtlErrs are the errors Close, CloseRead, CloseWrite and the
// Set*Deadline methods may fail with.
var faultCtlErrs = []faultErr{
	{"net.ErrClosed", kindClosed, faultconn.Closed},
	{"ENOTCONN-like", kindOther, func(op string) error { return faultconn.OpError(op, errFaultBoom) }},
	{"ECONNRESET", kindReset, faultconn.Reset},
	{"EPIPE", kindReset, func(op string) error { return faultconn.SyscallError(op, faultconn.ErrnoBrokenPipe) }},
}

// faultOp is an operation of a schedule.
type faultOp uint8

const (
	opRead faultOp = iota
	opWrite
	opReadFrom // ReadFrom a strings.Reader: one inner Write (the io.Copy fallback)
	opWriteTo  // WriteTo a plain writer: inner Reads until one fails
	opClose
	opCloseRead
	opCloseWrite
	opSetDeadline
	opSetReadDeadline
	opSetWriteDeadline
	numFaultOps
)

var faultOpNames = [numFaultOps]string{
	"Read", "Write", "ReadFrom", "WriteTo", "Close", "CloseRead", "CloseWrite",
	"SetDeadline", "SetReadDeadline", "SetWriteDeadline",
}

// faultOpWeights is how often each operation is drawn.
var faultOpWeights = [numFaultOps]int{
	opRead: 24, opWrite: 24, opReadFrom: 5, opWriteTo: 5, opClose: 3,
	opCloseRead: 5, opCloseWrite: 5, opSetDeadline: 2, opSetReadDeadline: 2, opSetWriteDeadline: 2,
}

var faultInner = [numFaultOps]faultconn.Op{
	opRead: faultconn.Read, opWrite: faultconn.Write, opReadFrom: faultconn.Write,
	opWriteTo: faultconn.Read, opClose: faultconn.Close, opCloseRead: faultconn.CloseRead,
	opCloseWrite: faultconn.CloseWrite, opSetDeadline: faultconn.SetDeadline,
	opSetReadDeadline: faultconn.SetReadDeadline, opSetWriteDeadline: faultconn.SetWriteDeadline,
}

// faultResult is one scripted outcome of an inner call.
type faultResult struct {
	n   int // bytes; faultconn.All for the whole buffer
	err *faultErr
}

func (r faultResult) kind() faultKind {
	if r.err == nil {
		return kindNone
	}
	return r.err.kind
}

func (r faultResult) String() string {
	n := "all"
	if r.n != faultconn.All {
		n = strconv.Itoa(r.n)
	}
	if r.err == nil {
		return n
	}
	return n + "," + r.err.name
}

// faultStep is one step of a schedule.
type faultStep struct {
	op    faultOp
	size  int           // Read/Write buffer or ReadFrom data length
	res   []faultResult // outcomes of the inner calls, in order
	gated bool          // the first inner call blocks until the nested steps ran
	hold  []faultStep   // steps run while the gated call is blocked
}

func (s faultStep) String() string {
	var b strings.Builder
	b.WriteString(faultOpNames[s.op])
	if s.op <= opWriteTo {
		fmt.Fprintf(&b, "(%d)", s.size)
	}
	rs := make([]string, len(s.res))
	for i, r := range s.res {
		rs[i] = r.String()
	}
	fmt.Fprintf(&b, "->[%s]", strings.Join(rs, " "))
	if s.gated {
		fmt.Fprintf(&b, " gated{%v}", s.hold)
	}
	return b.String()
}

// faultSource supplies the choices a schedule is built from: a seeded
// random generator, or the fuzzer's bytes.
type faultSource interface {
	intn(n int) int
}

type randSource struct{ r *rand.Rand }

func (s randSource) intn(n int) int { return s.r.IntN(n) }

// byteSource reads one choice per byte; once the bytes run out every choice
// is 0 and exhausted reports true.
type byteSource struct{ b []byte }

func (s *byteSource) intn(n int) int {
	if len(s.b) == 0 {
		return 0
	}
	v := int(s.b[0]) % n
	s.b = s.b[1:]
	return v
}

func (s *byteSource) exhausted() bool { return len(s.b) == 0 }

// genFaultStep draws a step; nested steps (gate false) are not gated.
func genFaultStep(src faultSource, gate bool) faultStep {
	total := 0
	for _, w := range faultOpWeights {
		total += w
	}
	pick := src.intn(total)
	var op faultOp
	for op = 0; pick >= faultOpWeights[op]; op++ {
		pick -= faultOpWeights[op]
	}
	st := faultStep{op: op}
	switch op {
	case opRead, opWrite, opReadFrom:
		st.size = src.intn(64)
		if op == opReadFrom {
			st.size++ // an empty source makes no Write
		}
		st.res = []faultResult{genIOResult(src, st.size)}
	case opWriteTo:
		st.size = 32 << 10 // io.Copy's buffer
		reads := 1 + src.intn(4)
		for i := range reads {
			r := genIOResult(src, 64)
			if i == reads-1 && r.err == nil {
				r.err = &faultIOErrs[src.intn(len(faultIOErrs))] // io.Copy reads until an error
			} else if i < reads-1 {
				r.err = nil
			}
			if r.n == faultconn.All {
				r.n = 1 + src.intn(64)
			}
			st.res = append(st.res, r)
		}
	default:
		r := faultResult{}
		if src.intn(4) == 0 {
			r.err = &faultCtlErrs[src.intn(len(faultCtlErrs))]
		}
		st.res = []faultResult{r}
	}
	if gate && op != opWriteTo && src.intn(16) == 0 {
		st.gated = true
		for range src.intn(4) {
			st.hold = append(st.hold, genFaultStep(src, false))
		}
	}
	return st
}

// genIOResult draws the outcome of a Read or Write of size bytes.
func genIOResult(src faultSource, size int) faultResult {
	switch v := src.intn(20); {
	case v < 9:
		return faultResult{n: faultconn.All}
	case v < 12:
		return faultResult{n: src.intn(size + 1)}
	default:
		r := faultResult{err: &faultIOErrs[src.intn(len(faultIOErrs))]}
		if src.intn(5) == 0 {
			r.n = src.intn(size + 1) // some bytes, then the error
		}
		return r
	}
}

// faultView is the part of a State the model predicts.
type faultView struct {
	Closed, PeerClosed, ReadShut, WriteShut, Reset, TimedOut bool
	Cause                                                    trackedconn.Cause
	BytesRead, BytesWritten                                  int64
}

func viewOf(s trackedconn.State) faultView {
	return faultView{
		Closed: s.Closed, PeerClosed: s.PeerClosed, ReadShut: s.ReadShut, WriteShut: s.WriteShut,
		Reset: s.Reset, TimedOut: s.TimedOut, Cause: s.Cause,
		BytesRead: s.BytesRead, BytesWritten: s.BytesWritten,
	}
}

// faultModel is DESIGN.md's state machine, written from the contract
// without looking at how the code keeps its flags.
type faultModel struct {
	closing bool // the first Close began: Cause decided, nothing more recorded

	peer, rshut, wshut, reset, timedOut bool

	term  trackedconn.Cause // first terminal event (peer, reset, error)
	cause trackedconn.Cause // decided at the first Close

	nread, nwritten int64
	events          []faultEvent // expected, in order
}

type faultEvent struct {
	e    trackedconn.Event
	view faultView
}

func (m *faultModel) view() faultView {
	return faultView{
		Closed: m.closing, PeerClosed: m.peer, ReadShut: m.rshut, WriteShut: m.wshut,
		Reset: m.reset, TimedOut: m.timedOut, Cause: m.cause,
		BytesRead: m.nread, BytesWritten: m.nwritten,
	}
}

func (m *faultModel) emit(e trackedconn.Event) {
	m.events = append(m.events, faultEvent{e, m.view()})
}

// terminal records c as the Cause-to-be if it is the first terminal event.
func (m *faultModel) terminal(c trackedconn.Cause) {
	if m.term == trackedconn.CauseNone {
		m.term = c
	}
}

// io applies a Read (read) or Write that reported n bytes and failed with
// an error of kind k (kindNone: it succeeded).
func (m *faultModel) io(read bool, n int, k faultKind) {
	if read {
		m.nread += int64(n) // every byte is counted, also after Close
	} else {
		m.nwritten += int64(n)
	}
	if m.closing {
		return // transitions after the first Close are not recorded
	}
	// TimedOut: the latest failed Read/Write hit a deadline; a later
	// successful one clears it. net.ErrClosed (our own close) records
	// nothing at all (doc.go), so it leaves TimedOut as it is.
	if !read && m.wshut && k != kindNone {
		// A Write after our own CloseWrite fails whatever the peer
		// does: it records nothing (issue 14 item 7).
		return
	}
	switch k {
	case kindNone:
		m.timedOut = false
		return
	case kindDeadline:
		m.timedOut = true
		return
	case kindClosed:
		return
	case kindEOF:
		// After our own CloseRead, and after a reset (Linux then
		// returns EOF), an EOF is not the peer's; like net.ErrClosed
		// it is the echo of what was already recorded, and records
		// nothing.
		if read && (m.rshut || m.reset) {
			return
		}
	}
	m.timedOut = false
	switch {
	case k == kindEOF && read:
		m.terminal(trackedconn.CausePeer)
		if !m.peer {
			m.peer = true
			m.emit(trackedconn.EventPeerClosed)
		}
	case k == kindReset:
		m.terminal(trackedconn.CauseReset)
		if !m.reset {
			m.reset = true
			m.emit(trackedconn.EventReset)
		}
	case k == kindGaveUp:
		m.terminal(trackedconn.CauseStalled)
	default: // kindOther, or io.EOF from a Write
		m.terminal(trackedconn.CauseError)
	}
}

// halfClose applies a CloseRead (read) or CloseWrite that returned an error
// of kind k.
func (m *faultModel) halfClose(read bool, k faultKind) {
	if m.closing || k != kindNone {
		return // a failed half-close records nothing
	}
	if read && !m.rshut {
		m.rshut = true
		m.emit(trackedconn.EventReadShut)
	}
	if !read && !m.wshut {
		m.wshut = true
		m.emit(trackedconn.EventWriteShut)
	}
}

// beginClose applies the start of a Close; it reports whether this is the
// first Close, which calls the inner Close.
func (m *faultModel) beginClose() bool {
	if m.closing {
		return false
	}
	m.closing = true
	switch {
	case m.term != trackedconn.CauseNone:
		m.cause = m.term
	case m.timedOut:
		m.cause = trackedconn.CauseTimeout
	default:
		m.cause = trackedconn.CauseLocal
	}
	return true
}

// endClose applies the return of the first Close's inner Close.
func (m *faultModel) endClose() {
	m.emit(trackedconn.EventClose)
}

func (m *faultModel) isClosed() bool {
	return m.closing || m.reset || (m.peer && m.wshut) || (m.rshut && m.wshut)
}

func (m *faultModel) probe() trackedconn.Liveness {
	switch {
	case m.closing:
		return trackedconn.LivenessClosed
	case m.reset:
		return trackedconn.LivenessReset
	case m.peer:
		return trackedconn.LivenessPeerClosed
	case m.term == trackedconn.CauseStalled:
		return trackedconn.LivenessStalled // the kernel gave up: no peek needed
	}
	return trackedconn.LivenessUnknown // a faultconn has no descriptor to peek at
}

// faultGroup is the model of a Group shared by the conns of a batch.
type faultGroup struct {
	g      trackedconn.Group
	opened uint64
	closed uint64
	live   []uint64        // IDs, oldest first
	conns  []*faultHarness // of this batch, for the byte sums
}

func (fg *faultGroup) check() error {
	var nread, nwritten int64
	for _, h := range fg.conns {
		nread += h.m.nread
		nwritten += h.m.nwritten
	}
	want := trackedconn.Stats{
		Opened: fg.opened, Active: uint64(len(fg.live)), Closed: fg.closed,
		BytesRead: uint64(nread), BytesWritten: uint64(nwritten),
	}
	if got := fg.g.Stats(); got != want {
		return fmt.Errorf("Group.Stats() = %+v, want %+v", got, want)
	}
	if got := fg.g.Stats(); got.Opened != got.Active+got.Closed {
		return fmt.Errorf("Group.Stats() = %+v: Opened != Active + Closed", got)
	}
	var ids []uint64
	for _, s := range fg.g.Conns() {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, fg.live) {
		return fmt.Errorf("Group.Conns() IDs = %v, want %v (oldest first)", ids, fg.live)
	}
	return nil
}

// faultHarness runs the steps of one schedule on one tracked conn and its
// model.
type faultHarness struct {
	inner *faultconn.Conn
	c     *trackedconn.Conn
	rec   *faultRecorder
	m     faultModel
	fg    *faultGroup
	done  []faultStep // steps run so far, for failure messages

	noHalf bool // the tracked conn wraps faultconn.NoHalfClose(inner)
}

// faultRecorder is a Hook that records events with their State.
type faultRecorder struct {
	mu  sync.Mutex
	got []faultEvent
	raw []trackedconn.State
}

func (r *faultRecorder) ConnEvent(e trackedconn.Event, s trackedconn.State) {
	r.mu.Lock()
	r.got = append(r.got, faultEvent{e, viewOf(s)})
	r.raw = append(r.raw, s)
	r.mu.Unlock()
}

func (r *faultRecorder) events() ([]faultEvent, []trackedconn.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), slices.Clone(r.raw)
}

// newFaultHarness wraps a new faultconn.Conn in fg; with noHalf, one
// without CloseRead and CloseWrite.
func newFaultHarness(fg *faultGroup, noHalf bool) *faultHarness {
	h := &faultHarness{inner: faultconn.New(), rec: new(faultRecorder), fg: fg, noHalf: noHalf}
	var inner net.Conn = h.inner
	if noHalf {
		inner = faultconn.NoHalfClose(h.inner)
	}
	h.c = trackedconn.Wrap(inner, trackedconn.WithHook(h.rec), trackedconn.WithGroup(&fg.g), trackedconn.WithName("fault"))
	h.m.emit(trackedconn.EventOpen)
	fg.opened++
	fg.live = append(fg.live, h.c.ID())
	fg.conns = append(fg.conns, h)
	return h
}

// faultCall is what the tracked conn returned for a step.
type faultCall struct {
	n   int64
	err error
}

// faultOpErrName is the Op of the *net.OpError an inner call fails with.
var faultOpErrName = [...]string{
	faultconn.Read: "read", faultconn.Write: "write", faultconn.Close: "close",
	faultconn.CloseRead: "close", faultconn.CloseWrite: "close",
	faultconn.SetDeadline: "set", faultconn.SetReadDeadline: "set", faultconn.SetWriteDeadline: "set",
}

// outcomes builds the faultconn outcomes of st.
func (h *faultHarness) outcomes(st faultStep) []faultconn.Outcome {
	op := faultOpErrName[faultInner[st.op]]
	outs := make([]faultconn.Outcome, len(st.res))
	for i, r := range st.res {
		outs[i].N = r.n
		if r.err != nil {
			outs[i].Err = r.err.make(op)
		}
	}
	return outs
}

// call runs the tracked conn's method of st.
func (h *faultHarness) call(st faultStep) faultCall {
	switch st.op {
	case opRead:
		n, err := h.c.Read(make([]byte, st.size))
		return faultCall{int64(n), err}
	case opWrite:
		n, err := h.c.Write(make([]byte, st.size))
		return faultCall{int64(n), err}
	case opReadFrom:
		n, err := h.c.ReadFrom(strings.NewReader(strings.Repeat("x", st.size)))
		return faultCall{n, err}
	case opWriteTo:
		n, err := h.c.WriteTo(writerFunc(func(b []byte) (int, error) { return len(b), nil }))
		return faultCall{n, err}
	case opClose:
		return faultCall{0, h.c.Close()}
	case opCloseRead:
		return faultCall{0, h.c.CloseRead()}
	case opCloseWrite:
		return faultCall{0, h.c.CloseWrite()}
	case opSetDeadline:
		return faultCall{0, h.c.SetDeadline(time.Now().Add(time.Hour))}
	case opSetReadDeadline:
		return faultCall{0, h.c.SetReadDeadline(time.Now().Add(time.Hour))}
	default:
		return faultCall{0, h.c.SetWriteDeadline(time.Time{})}
	}
}

// writerFunc is an io.Writer with no ReadFrom, so io.Copy calls Read.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// clampN is what faultconn reports for n on a buffer of size bytes.
func clampN(n, size int) int {
	if n < 0 || n > size {
		return size
	}
	return n
}

// step runs st and checks the invariants after it (and, for a gated step,
// while it is blocked and after each nested step).
func (h *faultHarness) step(st faultStep) error {
	h.done = append(h.done, st)
	outs := h.outcomes(st)
	inner := faultInner[st.op]
	first := st.op == opClose && !h.m.closing // this Close calls the inner Close
	if h.noHalf && (st.op == opCloseRead || st.op == opCloseWrite) {
		if err := h.call(st).err; !errors.Is(err, errors.ErrUnsupported) {
			return fmt.Errorf("%v() without a half-close underneath = %v, want an error matching errors.ErrUnsupported", faultOpNames[st.op], err)
		}
		return h.check()
	}
	if st.op != opClose || first {
		var gate *faultconn.Gate
		if st.gated {
			gate = faultconn.NewGate()
			outs[0].Gate = gate
		}
		h.inner.Push(inner, outs...)
		if gate != nil {
			return h.gatedStep(st, outs, gate, first)
		}
	}
	if st.op == opClose {
		h.m.beginClose()
	}
	got := h.call(st)
	if err := h.apply(st, outs, got, first); err != nil {
		return err
	}
	return h.check()
}

func (h *faultHarness) gatedStep(st faultStep, outs []faultconn.Outcome, gate *faultconn.Gate, first bool) error {
	res := make(chan faultCall, 1)
	go func() { res <- h.call(st) }()
	<-gate.Entered()
	if st.op == opClose {
		h.m.beginClose()
	}
	err := h.check()
	for _, n := range st.hold {
		if err != nil {
			break
		}
		err = h.step(n)
	}
	gate.Release()
	got := <-res
	if err != nil {
		return err
	}
	if err := h.apply(st, outs, got, first); err != nil {
		return err
	}
	return h.check()
}

// apply updates the model with st's completion and checks what the call
// returned: the inner conn's errors and counts, unchanged.
func (h *faultHarness) apply(st faultStep, outs []faultconn.Outcome, got faultCall, first bool) error {
	m := &h.m
	switch st.op {
	case opRead, opWrite:
		r := st.res[0]
		n := clampN(r.n, st.size)
		m.io(st.op == opRead, n, r.kind())
		if got.n != int64(n) || got.err != outs[0].Err {
			return fmt.Errorf("%v = %d, %v; want %d, %v", faultOpNames[st.op], got.n, got.err, n, outs[0].Err)
		}
	case opReadFrom:
		r := st.res[0]
		n := clampN(r.n, st.size)
		m.io(false, n, r.kind())
		want := outs[0].Err
		if want == nil && n < st.size {
			want = io.ErrShortWrite
		}
		if got.n != int64(n) || got.err != want {
			return fmt.Errorf("ReadFrom(r) = %d, %v; want %d, %v", got.n, got.err, n, want)
		}
	case opWriteTo:
		var total int64
		for _, r := range st.res {
			n := clampN(r.n, st.size)
			total += int64(n)
			m.io(true, n, r.kind())
		}
		want := outs[len(outs)-1].Err
		if want == io.EOF {
			want = nil
		}
		if got.n != total || got.err != want {
			return fmt.Errorf("WriteTo(w) = %d, %v; want %d, %v", got.n, got.err, total, want)
		}
	case opClose:
		if !first {
			if !errors.Is(got.err, net.ErrClosed) {
				return fmt.Errorf("second Close() = %v, want an error matching net.ErrClosed", got.err)
			}
			return nil
		}
		m.endClose()
		for i, id := range h.fg.live {
			if id == h.c.ID() {
				h.fg.live = slices.Delete(h.fg.live, i, i+1)
				h.fg.closed++
				break
			}
		}
		if got.err != outs[0].Err {
			return fmt.Errorf("first Close() = %v, want the inner Close's %v", got.err, outs[0].Err)
		}
	case opCloseRead, opCloseWrite:
		m.halfClose(st.op == opCloseRead, st.res[0].kind())
		if got.err != outs[0].Err {
			return fmt.Errorf("%v() = %v, want %v", faultOpNames[st.op], got.err, outs[0].Err)
		}
	default:
		if got.err != outs[0].Err {
			return fmt.Errorf("%v() = %v, want %v", faultOpNames[st.op], got.err, outs[0].Err)
		}
	}
	return nil
}

// check compares the conn with the model.
func (h *faultHarness) check() error {
	m := &h.m
	st := h.c.State()
	if got, want := viewOf(st), m.view(); got != want {
		return fmt.Errorf("State() = %+v, want %+v", got, want)
	}
	if st.ID == 0 || st.ID != h.c.ID() || st.Name != "fault" {
		return fmt.Errorf("State() ID, Name = %d, %q; want %d, %q", st.ID, st.Name, h.c.ID(), "fault")
	}
	if st.ClosedAt.IsZero() == m.closing {
		return fmt.Errorf("State().ClosedAt = %v with Closed %v", st.ClosedAt, m.closing)
	}
	if st.LastReadAt.IsZero() != (m.nread == 0) || st.LastWriteAt.IsZero() != (m.nwritten == 0) {
		return fmt.Errorf("State() LastReadAt, LastWriteAt = %v, %v with %d, %d bytes", st.LastReadAt, st.LastWriteAt, m.nread, m.nwritten)
	}
	if got, want := h.inner.Reported(faultconn.Read), m.nread; got != want || st.BytesRead != got {
		return fmt.Errorf("inner conn reported %d bytes read, model %d, State().BytesRead %d", got, want, st.BytesRead)
	}
	if got, want := h.inner.Reported(faultconn.Write), m.nwritten; got != want || st.BytesWritten != got {
		return fmt.Errorf("inner conn reported %d bytes written, model %d, State().BytesWritten %d", got, want, st.BytesWritten)
	}
	if got, want := h.c.IsClosed(), m.isClosed(); got != want || st.IsClosed() != want {
		return fmt.Errorf("IsClosed() = %v, State().IsClosed() = %v, want %v", got, st.IsClosed(), want)
	}
	if got, want := h.c.Probe(), m.probe(); got != want {
		return fmt.Errorf("Probe() = %v, want %v", got, want)
	}
	if m.closing {
		if got := h.inner.Calls(faultconn.Close); got != 1 {
			return fmt.Errorf("inner Close called %d times, want 1", got)
		}
	}
	got, raw := h.rec.events()
	if !slices.Equal(got, m.events) {
		return fmt.Errorf("events =\n\t%s\nwant\n\t%s", fmtEvents(got), fmtEvents(m.events))
	}
	for i, s := range raw {
		if s.ID != st.ID {
			return fmt.Errorf("event %v carries State.ID %d, want %d", got[i].e, s.ID, st.ID)
		}
		if got[i].e == trackedconn.EventClose && s.ClosedAt.IsZero() {
			return fmt.Errorf("EventClose State.ClosedAt is zero")
		}
	}
	return h.fg.check()
}

func fmtEvents(evs []faultEvent) string {
	s := make([]string, len(evs))
	for i, e := range evs {
		s[i] = fmt.Sprintf("%v %+v", e.e, e.view)
	}
	return strings.Join(s, "\n\t")
}

// runFaultSchedule runs the steps from src on a new conn in fg (without
// half-close methods if noHalf). The steps stop after max, or when stop
// reports true.
func runFaultSchedule(fg *faultGroup, src faultSource, noHalf bool, max int, stop func() bool) (*faultHarness, error) {
	h := newFaultHarness(fg, noHalf)
	if err := h.check(); err != nil {
		return h, fmt.Errorf("after Wrap: %w", err)
	}
	for i := 0; i < max && !stop(); i++ {
		st := genFaultStep(src, true)
		if err := h.step(st); err != nil {
			return h, fmt.Errorf("step %d %v: %w\nsteps: %v", i, st, err, h.done)
		}
	}
	return h, nil
}

// finishBatch closes the conns of a batch that are still open and checks
// that the Group ends empty.
func finishBatch(fg *faultGroup) error {
	for _, h := range fg.conns {
		if !h.m.closing {
			if err := h.step(faultStep{op: opClose, res: []faultResult{{}}}); err != nil {
				return fmt.Errorf("closing conn %d at the end of the batch: %w", h.c.ID(), err)
			}
		}
	}
	if got := fg.g.Stats(); got.Active != 0 || got.Opened != uint64(len(fg.conns)) {
		return fmt.Errorf("Group.Stats() = %+v after closing all %d conns", got, len(fg.conns))
	}
	return nil
}

func envInt(t *testing.T, name string, def uint64) uint64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 10, 64)
	require.NoError(t, err, "parse %s", name)
	return n
}

// faultProperty runs n schedules of steps each from base seed seed on, in
// batches sharing a Group, and fails at the first broken invariant.
func faultProperty(t *testing.T, seed, n uint64, steps int) {
	for b := uint64(0); b < n; b += faultBatch {
		fg := new(faultGroup)
		for i := b; i < n && i < b+faultBatch; i++ {
			s := seed + i
			src := randSource{rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))}
			noHalf := s%10 == 9 // a conn that cannot half-close, now and then
			if _, err := runFaultSchedule(fg, src, noHalf, steps, func() bool { return false }); err != nil {
				t.Fatalf("schedule with seed %d (rerun: FAULT_SEED=%d FAULT_SCHEDULES=1 FAULT_STEPS=%d go test -run TestFaultSchedules): %v",
					s, s, steps, err)
			}
		}
		if err := finishBatch(fg); err != nil {
			t.Fatalf("batch of seeds %d..%d: %v", seed+b, seed+min(n, b+faultBatch)-1, err)
		}
	}
}

// TestFaultSchedules checks the tracked conn against the model over many
// random schedules of operations and faults.
func TestFaultSchedules(t *testing.T) {
	seed := envInt(t, "FAULT_SEED", uint64(time.Now().UnixNano()))
	n := envInt(t, "FAULT_SCHEDULES", faultSchedules)
	steps := envInt(t, "FAULT_STEPS", faultSteps)
	t.Logf("FAULT_SEED=%d FAULT_SCHEDULES=%d FAULT_STEPS=%d", seed, n, steps)
	faultProperty(t, seed, n, int(steps))
}

// TestFaultHalfCloseKeepsTimedOut: a successful CloseRead or CloseWrite
// used to clear TimedOut, so a conn that timed out and was then shut down
// gracefully ended with Cause local instead of timeout.
func TestFaultHalfCloseKeepsTimedOut(t *testing.T) {
	for _, half := range []faultconn.Op{faultconn.CloseRead, faultconn.CloseWrite} {
		t.Run(half.String(), func(t *testing.T) {
			inner := faultconn.New()
			inner.Push(faultconn.Read, faultconn.Fail(faultconn.Timeout("read")))
			c, rec := wrapFault(inner)
			_, err := c.Read(make([]byte, 8))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded, "Read must return the inner deadline error")
			if half == faultconn.CloseRead {
				require.NoError(t, c.CloseRead(), "CloseRead")
			} else {
				require.NoError(t, c.CloseWrite(), "CloseWrite")
			}
			require.True(t, c.State().TimedOut, "State().TimedOut after %v, want true: the latest failed Read hit a deadline", half)
			require.NoError(t, c.Close(), "Close")
			st := rec.last(t, trackedconn.EventClose)
			require.Equal(t, trackedconn.CauseTimeout, st.Cause, "Cause after timeout, %v, Close", half)
		})
	}
}

// wrapFault wraps inner with a fresh recorder.
func wrapFault(inner net.Conn, opts ...trackedconn.Option) (*trackedconn.Conn, *faultRecorder) {
	r := new(faultRecorder)
	return trackedconn.Wrap(inner, append(opts, trackedconn.WithHook(r))...), r
}

// last returns the State of the last e; it fails the test if e did not fire.
func (r *faultRecorder) last(t *testing.T, e trackedconn.Event) trackedconn.State {
	t.Helper()
	got, raw := r.events()
	for i := len(got) - 1; i >= 0; i-- {
		if got[i].e == e {
			return raw[i]
		}
	}
	require.Failf(t, "event did not fire", "no %v event; got %s", e, fmtEvents(got))
	return trackedconn.State{}
}

// TestFaultConcurrentClose calls Close from many goroutines while the inner
// Close blocks: exactly one call closes the inner conn and returns its
// error, the others return at once with net.ErrClosed, and EventClose fires
// once, after the inner Close returned.
func TestFaultConcurrentClose(t *testing.T) {
	const callers = 8
	var g trackedconn.Group
	inner := faultconn.New()
	gate := faultconn.NewGate()
	errInner := faultconn.OpError("close", errFaultBoom)
	inner.Push(faultconn.Close, faultconn.Fail(errInner).Gated(gate))
	c, rec := wrapFault(inner, trackedconn.WithGroup(&g))

	errs := make(chan error, callers)
	for range callers {
		go func() { errs <- c.Close() }()
	}
	<-gate.Entered()
	for range callers - 1 {
		err := <-errs
		require.ErrorIs(t, err, net.ErrClosed, "a Close racing with the first must match net.ErrClosed")
	}
	st := c.State()
	require.True(t, st.Closed && c.IsClosed(), "State().Closed, IsClosed() while the inner Close blocks = %v, %v; want true", st.Closed, c.IsClosed())
	require.Equal(t, trackedconn.CauseLocal, st.Cause, "Cause is decided when Close begins")
	require.Equal(t, trackedconn.LivenessClosed, c.Probe(), "Probe() while the inner Close blocks")
	require.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, eventsOf(rec), "EventClose must wait for the inner Close")
	require.Len(t, g.Conns(), 1, "the conn stays in its Group until the inner Close returned")

	gate.Release()
	require.Same(t, errInner, <-errs, "the first Close returns the inner Close's error unchanged")
	require.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventClose}, eventsOf(rec), "events")
	require.Equal(t, 1, inner.Calls(faultconn.Close), "inner Close calls")
	require.Empty(t, g.Conns(), "Group.Conns() after Close")
	require.Equal(t, trackedconn.Stats{Opened: 1, Closed: 1}, g.Stats(), "Group.Stats() after Close")
}

func eventsOf(r *faultRecorder) []trackedconn.Event {
	got, _ := r.events()
	out := make([]trackedconn.Event, len(got))
	for i, e := range got {
		out[i] = e.e
	}
	return out
}

// TestFaultConcurrentOps runs random operations and faults on one conn
// from several goroutines, Close among them, and checks what holds whatever
// the interleaving: every event at most once, Open first, Close once and
// last, each event's State showing its transition, a Cause that agrees with
// the flags frozen at Close, byte counters equal to the inner conn's.
func TestFaultConcurrentOps(t *testing.T) {
	seed := envInt(t, "FAULT_SEED", uint64(time.Now().UnixNano()))
	t.Logf("FAULT_SEED=%d", seed)
	faultConcurrent(t, seed, 200)
}

// faultConcurrent runs conns conns from seed on, each with random
// operations from several goroutines, in one Group.
func faultConcurrent(t *testing.T, seed, conns uint64) {
	const (
		workers = 4
		ops     = 40
	)
	var g trackedconn.Group
	for i := range conns {
		s := seed + i
		r := rand.New(rand.NewPCG(s, s))
		inner := faultconn.New()
		for _, op := range []faultconn.Op{faultconn.Read, faultconn.Write} {
			for range workers * ops {
				res := genIOResult(randSource{r}, 32)
				o := faultconn.Outcome{N: res.n}
				if res.err != nil {
					o.Err = res.err.make(faultOpErrName[op])
				}
				inner.Push(op, o)
			}
		}
		for _, op := range []faultconn.Op{faultconn.CloseRead, faultconn.CloseWrite} {
			for range workers * ops {
				if r.IntN(3) == 0 {
					inner.Push(op, faultconn.Fail(faultconn.Reset("close")))
				} else {
					inner.Push(op, faultconn.OK())
				}
			}
		}
		// The yield before the recorder widens the window in which
		// hooks of one goroutine race with another's transitions.
		yield := trackedconn.HookFunc(func(trackedconn.Event, trackedconn.State) { runtime.Gosched() })
		c, rec := wrapFault(inner, trackedconn.WithGroup(&g), trackedconn.WithHook(yield))
		closer := r.IntN(workers * ops) // the op that is a Close
		var wg sync.WaitGroup
		for w := range workers {
			wseed := r.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(wseed, 1))
				buf := make([]byte, 32)
				for k := range ops {
					if w*ops+k == closer {
						c.Close()
						continue
					}
					switch r.IntN(10) {
					case 0, 1, 2:
						c.Read(buf)
					case 3, 4, 5:
						c.Write(buf)
					case 6:
						c.CloseRead()
					case 7:
						c.CloseWrite()
					case 8:
						c.Probe()
					default:
						c.State()
					}
				}
			})
		}
		wg.Wait()
		if err := checkConcurrentRun(c, inner, rec); err != nil {
			t.Fatalf("conn with seed %d (rerun: FAULT_SEED=%d go test -run TestFaultConcurrentOps): %v", s, s, err)
		}
	}
	st := g.Stats()
	require.Equal(t, trackedconn.Stats{Opened: conns, Closed: conns, BytesRead: st.BytesRead, BytesWritten: st.BytesWritten}, st, "Group.Stats() after every conn closed")
	require.Empty(t, g.Conns(), "Group.Conns() after every conn closed")
}

func checkConcurrentRun(c *trackedconn.Conn, inner *faultconn.Conn, rec *faultRecorder) error {
	got, raw := rec.events()
	seen := map[trackedconn.Event]bool{}
	for i, e := range got {
		if seen[e.e] {
			return fmt.Errorf("%v fired twice: %s", e.e, fmtEvents(got))
		}
		seen[e.e] = true
		if (i == 0) != (e.e == trackedconn.EventOpen) || (i == len(got)-1) != (e.e == trackedconn.EventClose) {
			return fmt.Errorf("events must run from open to close: %s", fmtEvents(got))
		}
		// Each State shows its event's transition (and maybe later ones:
		// it is taken when the hooks run, and Close may have begun since).
		v := e.view
		ok := true
		switch e.e {
		case trackedconn.EventPeerClosed:
			ok = v.PeerClosed
		case trackedconn.EventReset:
			ok = v.Reset
		case trackedconn.EventReadShut:
			ok = v.ReadShut
		case trackedconn.EventWriteShut:
			ok = v.WriteShut
		case trackedconn.EventClose:
			ok = v.Closed && v.Cause != trackedconn.CauseNone && !raw[i].ClosedAt.IsZero()
		}
		if !ok {
			return fmt.Errorf("%v carries State %+v", e.e, v)
		}
	}
	if !seen[trackedconn.EventClose] {
		return fmt.Errorf("no EventClose: %s", fmtEvents(got))
	}
	st := viewOf(c.State())
	closeView := got[len(got)-1].view
	frozen, final := closeView, st
	frozen.BytesRead, frozen.BytesWritten, final.BytesRead, final.BytesWritten = 0, 0, 0, 0
	if frozen != final {
		return fmt.Errorf("State() = %+v changed after EventClose's %+v", st, closeView)
	}
	// The flags are frozen when Close decides the Cause, so they explain it.
	var ok bool
	switch st.Cause {
	case trackedconn.CausePeer:
		ok = st.PeerClosed
	case trackedconn.CauseReset:
		ok = st.Reset
	case trackedconn.CauseError, trackedconn.CauseStalled:
		ok = true
	case trackedconn.CauseTimeout:
		ok = st.TimedOut && !st.PeerClosed && !st.Reset
	case trackedconn.CauseLocal:
		ok = !st.TimedOut && !st.PeerClosed && !st.Reset
	}
	if !ok {
		return fmt.Errorf("final State %+v: Cause disagrees with the flags", st)
	}
	if st.BytesRead != inner.Reported(faultconn.Read) || st.BytesWritten != inner.Reported(faultconn.Write) {
		return fmt.Errorf("State() bytes = %d read, %d written; inner conn reported %d, %d",
			st.BytesRead, st.BytesWritten, inner.Reported(faultconn.Read), inner.Reported(faultconn.Write))
	}
	if n := inner.Calls(faultconn.Close); n != 1 {
		return fmt.Errorf("inner Close called %d times, want 1", n)
	}
	return nil
}

// TestFaultCloseWaitsForRacingHooks: EventClose used to fire while the hooks
// of a transition that raced with Close were still running on another
// goroutine, so that EventWriteShut (or PeerClosed, Reset, ...) reached the
// hooks after EventClose.
func TestFaultCloseWaitsForRacingHooks(t *testing.T) {
	inner := faultconn.New()
	rec := new(faultRecorder)
	entered, release := make(chan struct{}), make(chan struct{})
	slow := trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		if e == trackedconn.EventWriteShut {
			close(entered)
			<-release
		}
	})
	c := trackedconn.Wrap(inner, trackedconn.WithHook(slow), trackedconn.WithHook(rec))
	halfClosed := make(chan error, 1)
	go func() { halfClosed <- c.CloseWrite() }()
	<-entered
	require.NoError(t, c.Close(), "Close while EventWriteShut's hooks run")
	require.Equal(t, []trackedconn.Event{trackedconn.EventOpen}, eventsOf(rec), "events while EventWriteShut's hooks run")
	close(release)
	require.NoError(t, <-halfClosed, "CloseWrite")
	require.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventWriteShut, trackedconn.EventClose},
		eventsOf(rec), "EventClose must come last")
	require.Equal(t, trackedconn.CauseLocal, rec.last(t, trackedconn.EventClose).Cause, "Cause")
}

// TestFaultCloseFromHook closes the conn from the hook of EventPeerClosed:
// EventClose follows once that hook returned.
func TestFaultCloseFromHook(t *testing.T) {
	inner := faultconn.New()
	inner.Push(faultconn.Read, faultconn.Fail(io.EOF))
	rec := new(faultRecorder)
	var c *trackedconn.Conn
	closeOnEOF := trackedconn.HookFunc(func(e trackedconn.Event, s trackedconn.State) {
		if e == trackedconn.EventPeerClosed {
			require.NoError(t, c.Close(), "Close from the EventPeerClosed hook")
		}
	})
	c = trackedconn.Wrap(inner, trackedconn.WithHook(closeOnEOF), trackedconn.WithHook(rec))
	_, err := c.Read(make([]byte, 1))
	require.Same(t, io.EOF, err, "Read returns the inner io.EOF unchanged")
	require.Equal(t, []trackedconn.Event{trackedconn.EventOpen, trackedconn.EventPeerClosed, trackedconn.EventClose},
		eventsOf(rec), "events")
	require.Equal(t, trackedconn.CausePeer, rec.last(t, trackedconn.EventClose).Cause, "Cause")
}
