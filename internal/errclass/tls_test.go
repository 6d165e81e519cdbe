package errclass

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"

	"github.com/connwatch/connwatch/internal/testcert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selfSigned returns a self-signed certificate for 127.0.0.1, valid from
// notBefore to notAfter, and a pool that trusts it.
func selfSigned(t *testing.T, notBefore, notAfter time.Time) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	cert, pool, err := testcert.New(notBefore, notAfter)
	require.NoError(t, err, "self-signed certificate")
	return cert, pool
}

// clientConfig returns a client config that trusts pool and checks the
// certificate for 127.0.0.1.
func clientConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// validCert returns a certificate valid now and a pool that trusts it.
func validCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	return selfSigned(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}

// serve runs server on the accepted side of a fresh loopback conn, dials it,
// runs client on the dialed side, and returns both results.
func serve(t *testing.T, server, client func(net.Conn) error) (clientErr, serverErr error) {
	t.Helper()
	ln := listen(t)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second)) // safety net
		done <- server(c)
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second)) // safety net
	clientErr = client(c)
	c.Close()
	return clientErr, <-done
}

// handshakes runs a TLS handshake with the given configs over loopback.
func handshakes(t *testing.T, clientCfg, serverCfg *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	return serve(t,
		func(c net.Conn) error { return tls.Server(c, serverCfg).Handshake() },
		func(c net.Conn) error { return tls.Client(c, clientCfg).Handshake() })
}

func TestRealTLSVerification(t *testing.T) {
	cert, pool := validCert(t)
	serverCfg := &tls.Config{Certificates: []tls.Certificate{cert}}

	t.Run("unknown authority", func(t *testing.T) {
		// An empty pool, not the system roots, so every platform runs Go's verifier.
		clientErr, serverErr := handshakes(t, clientConfig(x509.NewCertPool()), serverCfg)
		checkClass(t, clientErr, TLS)
		assert.ErrorAs(t, clientErr, new(*tls.CertificateVerificationError))
		assert.ErrorAs(t, clientErr, new(x509.UnknownAuthorityError))
		// The server hears the client's bad_certificate alert.
		checkClass(t, serverErr, TLS)
	})
	t.Run("hostname", func(t *testing.T) {
		clientErr, serverErr := handshakes(t, &tls.Config{RootCAs: pool, ServerName: "wrong.invalid"}, serverCfg)
		checkClass(t, clientErr, TLS)
		assert.ErrorAs(t, clientErr, new(x509.HostnameError))
		checkClass(t, serverErr, TLS)
	})
	t.Run("expired", func(t *testing.T) {
		old, oldPool := selfSigned(t, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
		clientErr, serverErr := handshakes(t, clientConfig(oldPool),
			&tls.Config{Certificates: []tls.Certificate{old}})
		checkClass(t, clientErr, TLS)
		assert.ErrorAs(t, clientErr, new(x509.CertificateInvalidError))
		checkClass(t, serverErr, TLS)
	})
}

func TestRealTLSRecordHeader(t *testing.T) {
	cert, pool := validCert(t)

	t.Run("plain client to TLS server", func(t *testing.T) {
		_, serverErr := serve(t,
			func(c net.Conn) error {
				return tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
			},
			func(c net.Conn) error {
				_, err := c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
				return err
			})
		checkClass(t, serverErr, TLS)
		assert.ErrorAs(t, serverErr, new(tls.RecordHeaderError))
	})
	t.Run("TLS client to plain server", func(t *testing.T) {
		clientErr, _ := serve(t,
			func(c net.Conn) error {
				if _, err := c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n")); err != nil {
					return err
				}
				// Drain the ClientHello before closing: unread data would
				// turn the close into a RST and the client's error into Reset.
				_, err := io.Copy(io.Discard, c)
				return err
			},
			func(c net.Conn) error { return tls.Client(c, clientConfig(pool)).Handshake() })
		checkClass(t, clientErr, TLS)
		assert.ErrorAs(t, clientErr, new(tls.RecordHeaderError))
	})
}

func TestRealTLSServerRejects(t *testing.T) {
	cert, pool := validCert(t)
	clientErr, serverErr := handshakes(t,
		&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS12},
		&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	// The client gets the server's protocol_version alert, which crypto/tls
	// reports as &net.OpError{Op: "remote error"} around an unexported type.
	checkClass(t, clientErr, TLS)
	// The server's own error is a plain fmt.Errorf value: Other, a
	// documented limit.
	require.Error(t, serverErr)
	t.Logf("server err = %s, class %v", chain(serverErr), Classify(serverErr))
}

// TestRealTLSPeerGone checks that a handshake the peer cut short is
// classified by how the peer left, not as TLS.
func TestRealTLSPeerGone(t *testing.T) {
	_, pool := validCert(t)
	readHello := func(c net.Conn) error {
		_, err := c.Read(make([]byte, 1)) // the ClientHello has arrived
		return err
	}
	t.Run("reset", func(t *testing.T) {
		clientErr, serverErr := serve(t,
			func(c net.Conn) error {
				if err := readHello(c); err != nil {
					return err
				}
				if err := c.(*net.TCPConn).SetLinger(0); err != nil {
					return err
				}
				return c.Close()
			},
			func(c net.Conn) error { return tls.Client(c, clientConfig(pool)).Handshake() })
		require.NoError(t, serverErr)
		checkClass(t, clientErr, Reset)
	})
	t.Run("close", func(t *testing.T) {
		clientErr, serverErr := serve(t,
			func(c net.Conn) error {
				if err := readHello(c); err != nil {
					return err
				}
				return c.(*net.TCPConn).CloseWrite()
			},
			func(c net.Conn) error { return tls.Client(c, clientConfig(pool)).Handshake() })
		require.NoError(t, serverErr)
		checkClass(t, clientErr, EOF)
	})
}

// quicHandshake runs a QUIC TLS handshake in memory, passing CRYPTO data
// between the two sides, and returns each side's error.
func quicHandshake(t *testing.T, clientCfg, serverCfg *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	client := tls.QUICClient(&tls.QUICConfig{TLSConfig: clientCfg})
	server := tls.QUICServer(&tls.QUICConfig{TLSConfig: serverCfg})
	defer client.Close()
	defer server.Close()
	client.SetTransportParameters(nil)
	server.SetTransportParameters(nil)
	ctx := context.Background()
	require.NoError(t, client.Start(ctx))
	require.NoError(t, server.Start(ctx))

	// pump delivers from's CRYPTO data to to, whose HandleData returns its
	// handshake error; pump reports whether anything moved.
	pump := func(from, to *tls.QUICConn, toErr *error) bool {
		moved := false
		for {
			e := from.NextEvent()
			switch e.Kind {
			case tls.QUICNoEvent:
				return moved
			case tls.QUICWriteData:
				if *toErr == nil {
					*toErr = to.HandleData(e.Level, e.Data)
				}
			}
			moved = true
		}
	}
	for range 100 {
		c := pump(client, server, &serverErr)
		s := pump(server, client, &clientErr)
		if !c && !s {
			break
		}
	}
	return clientErr, serverErr
}

func TestRealTLSAlertError(t *testing.T) {
	cert, pool := validCert(t)
	quicClient := func(pool *x509.CertPool) *tls.Config {
		cfg := clientConfig(pool)
		cfg.MinVersion = tls.VersionTLS13 // QUIC needs TLS 1.3
		return cfg
	}
	quicServer := func(auth tls.ClientAuthType) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13, ClientAuth: auth}
	}

	// The server requires a client certificate the client does not have;
	// over QUIC crypto/tls wraps its error with the tls.AlertError it sends.
	_, serverErr := quicHandshake(t, quicClient(pool), quicServer(tls.RequireAnyClientCert))
	checkClass(t, serverErr, TLS)
	var alert tls.AlertError
	require.ErrorAs(t, serverErr, &alert)
	t.Logf("alert = %d", uint8(alert))

	// The client rejecting the server's certificate sends one as well.
	clientErr, _ := quicHandshake(t, quicClient(x509.NewCertPool()), quicServer(tls.NoClientCert))
	checkClass(t, clientErr, TLS)
	assert.ErrorAs(t, clientErr, new(tls.AlertError))
}
