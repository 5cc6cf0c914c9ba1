package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/zaki-platform/zaki/internal/pki"
)

// Agents speak mutual TLS to each other with their node certificates. Those
// are issued for clients only (internal/pki/issue.go): no server usage and
// no DNS name, so Go's default server verification cannot accept them. The
// pulling side therefore verifies the serving agent itself, against the
// cluster CA, and requires the node the control plane named; the serving
// side requires a client certificate of the CA (which Go's client usage
// check passes) and PullVolume then checks whose it is.
//
// bundle returns the node's current credentials on every handshake, so a
// renewed certificate is presented without a restart.

// transferServerTLS is the TransferService's TLS.
func transferServerTLS(bundle func() *pki.Bundle) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(bundle().CA)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  pool,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return bundle().TLSCertificate(), nil
		},
	}
}

// transferClientTLS is TLS to the TransferService of node.
func transferClientTLS(bundle func() *pki.Bundle, node string, now func() time.Time) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Only switches off Go's verification, which needs a server usage
		// node certificates lack; VerifyConnection replaces it on every
		// handshake (resumed ones too), so nothing goes unchecked.
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return bundle().TLSCertificate(), nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyAgent(cs.PeerCertificates, bundle().CA, node, now())
		},
	}
}

// verifyAgent checks that chain's leaf is valid at now, signed by ca, and
// names the agent of node.
func verifyAgent(chain []*x509.Certificate, ca *x509.Certificate, node string, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("the transfer peer sent no certificate")
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("the transfer peer's certificate does not verify against the cluster CA: %w", err)
	}
	id, err := pki.IdentityOf(chain[0])
	if err != nil {
		return fmt.Errorf("the transfer peer's certificate: %w", err)
	}
	if id.Role != pki.RoleAgent || id.ID != node {
		return fmt.Errorf("the transfer peer is %s, not the agent of node %s: "+
			"is its transfer address (--transfer-advertise) another node's?", id, node)
	}
	return nil
}
