package integration

import (
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/connwatch/connwatch/internal/testcert"
)

// testCert returns testcert's server and client TLS configs (a self-signed
// certificate for 127.0.0.1, valid for an hour either side of now), both
// offering h2 and http/1.1, and the certificate as a PEM file for curl.
func testCert(t *testing.T) (server, client *tls.Config, pemFile string) {
	t.Helper()
	server, client, err := testcert.Configs()
	require.NoError(t, err)
	protos := []string{"h2", "http/1.1"}
	server.NextProtos, client.NextProtos = protos, protos
	der := server.Certificates[0].Certificate[0]
	pemFile = filepath.Join(t.TempDir(), "cert.pem")
	require.NoError(t, os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	return server, client, pemFile
}
