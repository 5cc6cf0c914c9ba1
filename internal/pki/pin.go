package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ErrPinMismatch means the server offered no CA with the pinned hash: the
// token was made by another cluster, or something sits in between.
var ErrPinMismatch = errors.New("the control plane's CA does not match the join token's CA hash " +
	"(a token from another cluster, or something in between)")

// PinnedTLS is the client's TLS for a join, before it has the CA. It fetches
// and verifies in one handshake: the control plane sends its CA along with
// its certificate; the CA whose SHA-256 equals caHash becomes the only root,
// and the server's certificate must chain to it as a normal verification
// would (ServerName, server usage, validity).
//
// InsecureSkipVerify only switches off Go's default verification, which
// cannot work yet (there is no root to verify against); VerifyConnection
// replaces it entirely and runs on every handshake, so nothing is skipped.
func PinnedTLS(caHash string, now func() time.Time) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		ServerName:         ServerName,
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection, which pins the CA.
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := VerifyPinned(cs.PeerCertificates, caHash, now())
			return err
		},
	}
}

// VerifyPinned checks that chain (leaf first) holds a CA whose hash is
// caHash and a control-plane server certificate that chains to it. It
// returns that CA.
func VerifyPinned(chain []*x509.Certificate, caHash string, now time.Time) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("pki: the control plane sent no certificate")
	}
	var ca *x509.Certificate
	for _, c := range chain[1:] {
		if c.IsCA && CertHash(c.Raw) == caHash {
			ca = c
		}
	}
	if ca == nil {
		return nil, fmt.Errorf("pki: %w", ErrPinMismatch)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: ServerName, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return nil, fmt.Errorf("pki: the control plane's certificate does not verify against the pinned CA: %w", err)
	}
	return ca, nil
}

// ClientTLS is a member's TLS to the control plane once it holds the CA:
// the server is verified against ca under ServerName, and every handshake
// presents whatever certificate current returns then, so a renewed
// certificate is used by new connections without a restart.
func ClientTLS(ca *x509.Certificate, current func() *tls.Certificate) *tls.Config {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ServerName: ServerName,
		RootCAs:    roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return current(), nil
		},
	}
}

// ServerTLS is the control plane's TLS: current returns its certificate (with
// the CA in the chain, for pinning joiners). A client certificate is asked
// for and verified against ca when given; calls without one (only Join may)
// are refused per method after the handshake.
func ServerTLS(ca *x509.Certificate, current func() (*tls.Certificate, error)) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  pool,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return current()
		},
	}
}
