// Package errclass classifies the errors that net.Conn I/O and dials return,
// so that callers such as trackedconn can tell a peer's EOF from a local
// close, a reset, a deadline or a TLS failure without reading error strings.
//
// Classify matches with errors.Is and errors.As, never with error strings,
// so wrapping with fmt.Errorf("%w"), *net.OpError, *os.SyscallError,
// *os.PathError or errors.Join keeps the class of the inner error. For the
// shapes net returns most (a sentinel or an errno, bare or under
// *net.OpError and *os.SyscallError) a shortcut gives the same answer
// without walking the chain once per check; nil costs one comparison.
//
// # Order of checks
//
// A chain can match more than one class: a DNS lookup that ran out of time
// matches both *net.DNSError and context.DeadlineExceeded, and a dial that
// hit Dialer.Timeout may match os.ErrDeadlineExceeded. Classify returns the
// first class that matches, in this order:
//
//  1. None: err == nil.
//  2. Canceled: context.Canceled, wherever it happened (dial, lookup,
//     handshake); a cancellation is the caller's choice, not a failure.
//  3. DNS: a *net.DNSError, also one that timed out or carries a context
//     error; the failure is in name resolution.
//  4. ContextDeadline: context.DeadlineExceeded, or os.ErrDeadlineExceeded
//     inside a *net.OpError whose Op is "dial" (see below).
//  5. Deadline: os.ErrDeadlineExceeded, a deadline set on the conn.
//  6. Closed: net.ErrClosed, io.ErrClosedPipe, os.ErrClosed.
//  7. EOF: io.EOF, io.ErrUnexpectedEOF.
//  8. Reset, BrokenPipe, Refused, Unreachable, TimedOut: system error
//     numbers (see each constant; the lists differ on Windows).
//  9. TLS: crypto/tls and crypto/x509 error types, and alerts.
//  10. Other.
//
// Errno classes come before TLS, so a handshake that fails because the peer
// reset the connection is Reset, not TLS.
//
// # Limits
//
// Two rules read the Op field of a *net.OpError (the first one errors.As
// finds, or one nested in its Err), since the standard library offers nothing
// else to match; Op is set by code, it is not the error message:
//
//   - A dial that hits its deadline (Dialer.Timeout, Dialer.Deadline or the
//     dial context's deadline) fails with context.DeadlineExceeded or, when
//     the poller's timer fires before the context's, with
//     os.ErrDeadlineExceeded under Op "dial". Both are ContextDeadline: a
//     dial has no conn deadline, so the class does not depend on that race.
//   - crypto/tls reports a TLS alert as a *net.OpError with Op
//     "remote error" (the peer sent it) or "local error" (we sent it) around
//     an unexported alert type. Both are TLS. Only QUIC connections return
//     the exported tls.AlertError.
//
// crypto/tls returns many handshake failures it detects itself (for example
// "client offered only unsupported versions") as plain errors.New or
// fmt.Errorf values; those have no type to match and are Other.
package errclass

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
)

// Class is the kind of an error from net.Conn I/O or a dial.
type Class uint8

// The classes. Their numeric order is not the order of checks; the package
// doc gives that.
const (
	// None is the class of a nil error.
	None Class = iota
	// EOF means the peer closed its sending side: io.EOF, and also
	// io.ErrUnexpectedEOF, which readers such as io.ReadFull and crypto/tls
	// return when the peer closed in the middle of a message. A message cut
	// short still ends with the peer's close, so it is EOF, not Other.
	EOF
	// Closed means this side closed the conn before or during the call:
	// net.ErrClosed, io.ErrClosedPipe (net.Pipe) or os.ErrClosed.
	Closed
	// Deadline means a deadline set on the conn (SetDeadline,
	// SetReadDeadline, SetWriteDeadline) passed: os.ErrDeadlineExceeded.
	Deadline
	// Canceled means a context was canceled: context.Canceled.
	Canceled
	// ContextDeadline means a context's deadline passed, for example a dial
	// context or Dialer.Timeout: context.DeadlineExceeded, or
	// os.ErrDeadlineExceeded from a dial (see the package doc).
	ContextDeadline
	// Reset means the peer reset the connection or the local stack aborted
	// it: ECONNRESET, ECONNABORTED; on Windows WSAECONNRESET,
	// WSAECONNABORTED, ERROR_NETNAME_DELETED and ERROR_CONNECTION_ABORTED.
	Reset
	// BrokenPipe means a write found the sending side shut: EPIPE, after a
	// local CloseWrite or (on Linux) after a reset was already reported; on
	// Windows WSAESHUTDOWN, which Windows returns for a write after
	// CloseWrite.
	BrokenPipe
	// Refused means nothing listens at the dialed address: ECONNREFUSED;
	// on Windows WSAECONNREFUSED and ERROR_CONNECTION_REFUSED.
	Refused
	// Unreachable means no route leads to the host or network:
	// EHOSTUNREACH, ENETUNREACH, ENETDOWN, and the Windows equivalents.
	Unreachable
	// TimedOut means the kernel gave up on the connection (connect,
	// retransmission, keepalive or TCP_USER_TIMEOUT): ETIMEDOUT; on Windows
	// WSAETIMEDOUT, WSAENETRESET (keepalive failure) and ERROR_SEM_TIMEOUT.
	// It is not a Deadline.
	TimedOut
	// DNS means name resolution failed: a *net.DNSError, also one that
	// timed out.
	DNS
	// TLS means a TLS handshake or record failed: tls.RecordHeaderError,
	// tls.AlertError, *tls.CertificateVerificationError,
	// *tls.ECHRejectionError, a TLS alert sent or received, or a crypto/x509
	// verification error.
	TLS
	// Other is any other error.
	Other

	numClasses = iota
)

var classNames = [numClasses]string{
	None:            "none",
	EOF:             "eof",
	Closed:          "closed",
	Deadline:        "deadline",
	Canceled:        "canceled",
	ContextDeadline: "context-deadline",
	Reset:           "reset",
	BrokenPipe:      "broken-pipe",
	Refused:         "refused",
	Unreachable:     "unreachable",
	TimedOut:        "timed-out",
	DNS:             "dns",
	TLS:             "tls",
	Other:           "other",
}

// String returns the class's lower-case name, such as "eof" or
// "broken-pipe", or "Class(N)" for a value outside the constants.
func (c Class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Classify returns the class of err, checking the chain in the order the
// package doc gives. Classify(nil) is None.
func Classify(err error) Class {
	if err == nil {
		return None // small enough to inline, so a nil error costs a compare
	}
	return classify(err)
}

// classify classifies a non-nil err.
func classify(err error) Class {
	if c, ok := classifyShallow(err); ok {
		return c
	}
	return classifyChain(err)
}

// classifyShallow classifies the shapes net returns most, a sentinel or an
// errno bare or under *net.OpError and *os.SyscallError, without walking the
// chain again for every check. It gives the answer classifyChain gives
// (FuzzClassify checks this) or reports false.
func classifyShallow(err error) (Class, bool) {
	op, _ := err.(*net.OpError)
	if op != nil {
		err = op.Err
	}
	if se, ok := err.(*os.SyscallError); ok {
		err = se.Err
	}
	c := leafClass(err)
	switch {
	case c == Other:
		return Other, false // maybe a chain, an alert, or a TLS type
	case c == Deadline && op != nil && op.Op == "dial":
		return ContextDeadline, true
	}
	return c, true
}

// leafClass classifies err when err is one of the values the ordered checks
// look for. None of them has an Unwrap method or an Is method that matches
// another of them, so comparing is enough. It returns Other for any other err.
func leafClass(err error) Class {
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		return EOF
	case net.ErrClosed, io.ErrClosedPipe, os.ErrClosed:
		return Closed
	case os.ErrDeadlineExceeded:
		return Deadline
	case context.Canceled:
		return Canceled
	case context.DeadlineExceeded:
		return ContextDeadline
	}
	for i := range errnoClasses {
		for _, target := range errnoClasses[i].errs {
			if err == target {
				return errnoClasses[i].class
			}
		}
	}
	return Other
}

// classifyChain runs the ordered checks on a non-nil err.
func classifyChain(err error) Class {
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return DNS
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ContextDeadline
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if hasOp(err, isDialOp) {
			return ContextDeadline
		}
		return Deadline
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, os.ErrClosed) {
		return Closed
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return EOF
	}
	for i := range errnoClasses {
		for _, target := range errnoClasses[i].errs {
			if errors.Is(err, target) {
				return errnoClasses[i].class
			}
		}
	}
	if hasOp(err, isAlertOp) || isTLS(err) {
		return TLS
	}
	return Other
}

// hasOp reports whether match accepts the first *net.OpError in err's chain
// or an OpError nested in its Err, and so on inward.
func hasOp(err error, match func(*net.OpError) bool) bool {
	var op *net.OpError
	for errors.As(err, &op) {
		if match(op) {
			return true
		}
		err = op.Err
	}
	return false
}

// isDialOp reports whether op comes from a dial whose deadline passed.
func isDialOp(op *net.OpError) bool {
	return op.Op == "dial" && errors.Is(op.Err, os.ErrDeadlineExceeded)
}

// isAlertOp reports whether op is how crypto/tls reports a TLS alert.
func isAlertOp(op *net.OpError) bool {
	return op.Op == "remote error" || op.Op == "local error"
}

// errnoClass lists the system errors of one class; the per-OS files fill
// errnoClasses in the order Classify checks them.
type errnoClass struct {
	class Class
	errs  []error
}

// isTLS reports whether the chain holds a crypto/tls or crypto/x509 error type.
func isTLS(err error) bool {
	// One struct holds every target, so they cost one allocation, not eleven.
	var t struct {
		recordHeader tls.RecordHeaderError
		alert        tls.AlertError
		verify       *tls.CertificateVerificationError
		ech          *tls.ECHRejectionError
		unknownCA    x509.UnknownAuthorityError
		invalid      x509.CertificateInvalidError
		hostname     x509.HostnameError
		systemRoots  x509.SystemRootsError
		insecure     x509.InsecureAlgorithmError
		constraint   x509.ConstraintViolationError
		critical     x509.UnhandledCriticalExtension
	}
	return errors.As(err, &t.recordHeader) ||
		errors.As(err, &t.alert) ||
		errors.As(err, &t.verify) ||
		errors.As(err, &t.ech) ||
		errors.As(err, &t.unknownCA) ||
		errors.As(err, &t.invalid) ||
		errors.As(err, &t.hostname) ||
		errors.As(err, &t.systemRoots) ||
		errors.As(err, &t.insecure) ||
		errors.As(err, &t.constraint) ||
		errors.As(err, &t.critical)
}
