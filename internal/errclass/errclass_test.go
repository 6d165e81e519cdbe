package errclass

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestString(t *testing.T) {
	want := map[Class]string{
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
	require.Len(t, want, numClasses, "every class needs a name in this test")
	for c := Class(0); c < numClasses; c++ {
		assert.Equal(t, want[c], c.String(), "Class(%d).String()", uint8(c))
	}
	assert.Equal(t, "Class(14)", Class(numClasses).String())
	assert.Equal(t, "Class(255)", Class(255).String())
}

// errPlain is an error no rule matches.
var errPlain = errors.New("errclass test: plain")

// classCase is an error and the class Classify must give it.
type classCase struct {
	name string
	err  error
	want Class
}

// syntheticCases are hand-built errors with the class the package doc
// promises for them, including the cases the order of checks decides.
func syntheticCases() []classCase {
	cases := []classCase{
		{"nil", nil, None},
		{"errors.New", errPlain, Other},
		{"io.EOF", io.EOF, EOF},
		{"io.ErrUnexpectedEOF", io.ErrUnexpectedEOF, EOF},
		{"net.ErrClosed", net.ErrClosed, Closed},
		{"io.ErrClosedPipe", io.ErrClosedPipe, Closed},
		{"os.ErrClosed", os.ErrClosed, Closed},
		{"os.ErrDeadlineExceeded", os.ErrDeadlineExceeded, Deadline},
		{"context.Canceled", context.Canceled, Canceled},
		{"context.DeadlineExceeded", context.DeadlineExceeded, ContextDeadline},
		{"DNSError", &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, DNS},
		{"DNSError timeout", &net.DNSError{Err: "i/o timeout", Name: "x.invalid", IsTimeout: true}, DNS},
		// Order: DNS comes before ContextDeadline, Canceled before DNS.
		{"DNSError with ctx deadline", &net.DNSError{Err: "timeout", UnwrapErr: context.DeadlineExceeded, IsTimeout: true}, DNS},
		{"DNSError with ctx cancel", &net.DNSError{Err: "canceled", UnwrapErr: context.Canceled}, Canceled},
		// A dial has no conn deadline: the poller's timer winning the race
		// against the context's must not change the class.
		{"dial deadline", &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, ContextDeadline},
		{"dial deadline in proxyconnect", &net.OpError{Op: "proxyconnect", Net: "tcp",
			Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}}, ContextDeadline},
		{"read deadline", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, Deadline},
		{"dial refused-like errPlain", &net.OpError{Op: "dial", Net: "tcp", Err: errPlain}, Other},
		// Order: Closed before EOF, deadlines before Closed.
		{"join EOF closed", errors.Join(io.EOF, net.ErrClosed), Closed},
		{"join closed deadline", errors.Join(net.ErrClosed, os.ErrDeadlineExceeded), Deadline},
		{"join EOF TLS", errors.Join(tls.AlertError(40), io.EOF), EOF},
		// TLS.
		{"RecordHeaderError", tls.RecordHeaderError{Msg: "not TLS"}, TLS},
		{"AlertError", tls.AlertError(42), TLS},
		{"CertificateVerificationError", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, TLS},
		{"ECHRejectionError", &tls.ECHRejectionError{}, TLS},
		{"UnknownAuthorityError", x509.UnknownAuthorityError{}, TLS},
		{"CertificateInvalidError", x509.CertificateInvalidError{Reason: x509.Expired}, TLS},
		{"HostnameError", x509.HostnameError{Host: "x.invalid"}, TLS},
		{"SystemRootsError", x509.SystemRootsError{}, TLS},
		{"remote alert", &net.OpError{Op: "remote error", Err: errPlain}, TLS},
		{"local alert", &net.OpError{Op: "local error", Err: errPlain}, TLS},
		{"verification error wrapping EOF", &tls.CertificateVerificationError{Err: io.EOF}, EOF},
	}
	return append(cases, errnoCases()...)
}

// wrappers keep the class of the error they wrap.
var wrappers = []struct {
	name string
	wrap func(error) error
}{
	{"fmt %w", func(err error) error { return fmt.Errorf("errclass test: %w", err) }},
	{"OpError", func(err error) error { return &net.OpError{Op: "read", Net: "tcp", Err: err} }},
	{"SyscallError", func(err error) error { return os.NewSyscallError("read", err) }},
	{"PathError", func(err error) error { return &os.PathError{Op: "read", Path: "/dev/null", Err: err} }},
	{"Join alone", func(err error) error { return errors.Join(err) }},
	{"Join after errPlain", func(err error) error { return errors.Join(errPlain, err) }},
	{"fmt two %w", func(err error) error { return fmt.Errorf("%w: %w", errPlain, err) }},
	{"OpError SyscallError fmt", func(err error) error {
		return fmt.Errorf("conn: %w", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", err)})
	}},
}

func TestClassifySynthetic(t *testing.T) {
	for _, tc := range syntheticCases() {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Classify(tc.err), "Classify(%#v)", tc.err)
			if tc.err == nil {
				return
			}
			for _, w := range wrappers {
				assert.Equal(t, tc.want, Classify(w.wrap(tc.err)), "Classify(%s(%v))", w.name, tc.err)
			}
		})
	}
}

// TestShallow checks that the shortcut for common shapes agrees with the
// ordered checks.
func TestShallow(t *testing.T) {
	shapes := []func(error) error{
		func(err error) error { return err },
		func(err error) error { return os.NewSyscallError("read", err) },
		func(err error) error { return &net.OpError{Op: "read", Net: "tcp", Err: err} },
		func(err error) error {
			return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
		},
		func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} },
		func(err error) error { return &net.OpError{Op: "remote error", Err: err} },
		func(err error) error { return &net.OpError{Op: "local error", Err: os.NewSyscallError("write", err)} },
	}
	for _, base := range fuzzBases() {
		for i, shape := range shapes {
			err := shape(base)
			assert.Equal(t, classifyChain(err), Classify(err), "shape %d of %v", i, base)
		}
	}
}

// fuzzBases are the leaves a fuzz chain is built from.
func fuzzBases() []error {
	bases := []error{
		io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, io.ErrClosedPipe, os.ErrClosed,
		os.ErrDeadlineExceeded, context.Canceled, context.DeadlineExceeded,
		&net.DNSError{Err: "no such host", IsNotFound: true},
		tls.RecordHeaderError{}, tls.AlertError(40), x509.HostnameError{},
		&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}},
		errPlain,
	}
	for i := range errnoClasses {
		bases = append(bases, errnoClasses[i].errs...)
	}
	return bases
}

// fuzzWrappers may change the class (dial, DNS, alert), unlike wrappers.
var fuzzWrappers = []func(error) error{
	func(err error) error { return fmt.Errorf("w: %w", err) },
	func(err error) error { return &net.OpError{Op: "read", Net: "tcp", Err: err} },
	func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} },
	func(err error) error { return &net.OpError{Op: "remote error", Err: err} },
	func(err error) error { return os.NewSyscallError("write", err) },
	func(err error) error { return &os.PathError{Op: "read", Path: "p", Err: err} },
	func(err error) error { return errors.Join(errPlain, err) },
	func(err error) error { return &net.DNSError{Err: "x", UnwrapErr: err} },
	func(err error) error { return &tls.CertificateVerificationError{Err: err} },
	func(err error) error { return fmt.Errorf("%w and %w", err, err) },
}

// buildChain turns fuzz bytes into an error chain: a byte that selects a
// base joins it to the chain so far (or starts the chain), a byte that
// selects a wrapper wraps the chain so far.
func buildChain(data []byte, bases []error) error {
	var err error
	for _, b := range data {
		i := int(b) % (len(bases) + len(fuzzWrappers))
		switch {
		case i < len(bases) && err == nil:
			err = bases[i]
		case i < len(bases):
			err = errors.Join(err, bases[i])
		case err != nil:
			err = fuzzWrappers[i-len(bases)](err)
		}
	}
	return err
}

func FuzzClassify(f *testing.F) {
	bases := fuzzBases()
	nb := byte(len(bases))
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{5, nb})                      // deadline, fmt
	f.Add([]byte{5, nb + 2})                  // deadline, dial
	f.Add([]byte{6, nb + 7, nb + 1})          // canceled, DNS, OpError
	f.Add([]byte{0, 3, 9, nb + 9})            // EOF + closed pipe + record header, doubled
	f.Add([]byte{13, nb + 3, nb + 6, nb + 8}) // errPlain, alert op, join, verification
	f.Add([]byte{nb - 1, nb + 4, nb + 1, nb}) // last errno, syscall, op, fmt
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64 {
			data = data[:64]
		}
		err := buildChain(data, bases)
		got := Classify(err)
		if again := Classify(err); again != got {
			t.Fatalf("Classify is not deterministic: %v then %v", got, again)
		}
		if got >= numClasses {
			t.Fatalf("Classify = %v, out of range", got)
		}
		if s := got.String(); s == "" || strings.HasPrefix(s, "Class(") {
			t.Fatalf("Class %d String() = %q", uint8(got), s)
		}
		if (err == nil) != (got == None) {
			t.Fatalf("Classify(%v) = %v; only nil is None", err, got)
		}
		if err == nil {
			return
		}
		if slow := classifyChain(err); slow != got {
			t.Fatalf("Classify = %v, ordered checks = %v", got, slow)
		}
		for _, w := range wrappers {
			if wrapped := Classify(w.wrap(err)); wrapped != got {
				t.Fatalf("Classify(%s(err)) = %v, Classify(err) = %v", w.name, wrapped, got)
			}
		}
	})
}

var sink Class

func BenchmarkClassify(b *testing.B) {
	var reset error = errPlain
	for _, ec := range errnoClasses {
		if ec.class == Reset {
			reset = ec.errs[0] // ECONNRESET or WSAECONNRESET
		}
	}
	for _, bc := range []struct {
		name string
		err  error
	}{
		{"nil", nil},
		{"EOF", io.EOF},
		{"wrapped-EOF", &net.OpError{Op: "read", Net: "tcp", Err: io.EOF}},
		{"wrapped-reset", &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", reset)}},
		{"other", fmt.Errorf("x: %w", errPlain)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = Classify(bc.err)
			}
		})
	}
}
