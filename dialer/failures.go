package dialer

import "github.com/connwatch/connwatch/internal/errclass"

// failureKind is the Failures field a failed dial is counted in.
type failureKind uint8

const (
	failRefused failureKind = iota
	failTimeout
	failCanceled
	failDNS
	failUnreachable
	failTLS
	failOther

	numFailureKinds = iota
)

// kindOf classifies a dial error. Each error has exactly one kind.
func kindOf(err error) failureKind {
	switch errclass.Classify(err) {
	case errclass.Refused:
		return failRefused
	case errclass.ContextDeadline, errclass.Deadline, errclass.TimedOut:
		return failTimeout
	case errclass.Canceled:
		return failCanceled
	case errclass.DNS:
		return failDNS
	case errclass.Unreachable:
		return failUnreachable
	case errclass.TLS:
		return failTLS
	}
	return failOther
}

// Failures are the counts of failed dials, by what went wrong. Each failed
// dial is counted once, in the first field that matches its error in the
// order below; so a dial canceled during name resolution is Canceled, and a
// name resolution that timed out is DNS.
type Failures struct {
	Canceled    uint64 `json:"canceled"`    // the dial's context was canceled
	DNS         uint64 `json:"dns"`         // name resolution failed (*net.DNSError)
	Timeout     uint64 `json:"timeout"`     // the context's deadline, net.Dialer.Timeout or Deadline, or the kernel's connect timeout (ETIMEDOUT)
	Refused     uint64 `json:"refused"`     // nothing listened (ECONNREFUSED)
	Unreachable uint64 `json:"unreachable"` // no route to the host or network (EHOSTUNREACH, ENETUNREACH, ...)
	TLS         uint64 `json:"tls"`         // the TLS handshake failed (a tls.Dialer, say)
	Other       uint64 `json:"other"`       // anything else, also a dial function that returned neither a conn nor an error
}

// Total returns the number of failed dials.
func (f Failures) Total() uint64 {
	return f.Canceled + f.DNS + f.Timeout + f.Refused + f.Unreachable + f.TLS + f.Other
}

// Failures returns the counts of failed dials so far.
func (d *Dialer) Failures() Failures {
	return Failures{
		Canceled:    d.fails[failCanceled].Load(),
		DNS:         d.fails[failDNS].Load(),
		Timeout:     d.fails[failTimeout].Load(),
		Refused:     d.fails[failRefused].Load(),
		Unreachable: d.fails[failUnreachable].Load(),
		TLS:         d.fails[failTLS].Load(),
		Other:       d.fails[failOther].Load(),
	}
}
