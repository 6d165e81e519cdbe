package errclass

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testHost is a name that never resolves (RFC 2606); the lookups below only
// ever reach the fake server on loopback.
const testHost = "connwatch.invalid"

// fakeDNS runs a UDP DNS server on loopback that answers every query with
// NXDOMAIN, or never answers if silent, and returns its address.
func fakeDNS(t *testing.T, silent bool) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed by the cleanup
			}
			if resp := nxdomain(buf[:n]); resp != nil && !silent {
				_, _ = pc.WriteTo(resp, addr)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String()
}

// nxdomain builds the NXDOMAIN reply to query: its header and first
// question, flagged as an authoritative answer with RCODE 3.
func nxdomain(query []byte) []byte {
	const headerLen = 12
	i := headerLen
	for i < len(query) && query[i] != 0 {
		i += int(query[i]) + 1 // a label
	}
	i += 1 + 4 // the root label, QTYPE, QCLASS
	if len(query) < headerLen || i > len(query) {
		return nil
	}
	resp := append([]byte(nil), query[:i]...)
	resp[2] = 0x84 | query[2]&0x01 // QR, AA, RD as asked
	resp[3] = 0x83                 // RA, RCODE 3 (NXDOMAIN)
	copy(resp[4:headerLen], []byte{0, 1, 0, 0, 0, 0, 0, 0})
	return resp
}

// resolver returns a Go resolver whose every query goes to addr.
func resolver(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}

func TestRealDNS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	t.Run("not found", func(t *testing.T) {
		_, err := resolver(fakeDNS(t, false)).LookupHost(ctx, testHost)
		checkClass(t, err, DNS)
		var dnsErr *net.DNSError
		require.ErrorAs(t, err, &dnsErr)
		assert.True(t, dnsErr.IsNotFound, "the fake server says NXDOMAIN")
	})
	t.Run("dial", func(t *testing.T) {
		d := net.Dialer{Resolver: resolver(fakeDNS(t, false))}
		_, err := d.DialContext(ctx, "tcp", net.JoinHostPort(testHost, "80"))
		checkClass(t, err, DNS)
	})
	t.Run("server unreachable", func(t *testing.T) {
		r := &net.Resolver{
			PreferGo: true,
			Dial: func(context.Context, string, string) (net.Conn, error) {
				return nil, errors.New("errclass test: no DNS server")
			},
		}
		_, err := r.LookupHost(ctx, testHost)
		checkClass(t, err, DNS)
	})
	t.Run("timeout", func(t *testing.T) {
		// Order: a lookup that runs out of time is DNS, not ContextDeadline.
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := resolver(fakeDNS(t, true)).LookupHost(short, testHost)
		checkClass(t, err, DNS)
		var dnsErr *net.DNSError
		require.ErrorAs(t, err, &dnsErr)
		assert.True(t, dnsErr.IsTimeout, "the fake server never answers")
		t.Logf("matches context.DeadlineExceeded: %v", errors.Is(err, context.DeadlineExceeded))
	})
	t.Run("canceled", func(t *testing.T) {
		// Order: a lookup the caller canceled is Canceled, not DNS.
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := resolver(fakeDNS(t, true)).LookupHost(canceled, testHost)
		checkClass(t, err, Canceled)
		assert.ErrorAs(t, err, new(*net.DNSError))
	})
}
