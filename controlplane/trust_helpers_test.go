package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/zaki-platform/zaki/internal/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// superuser is a control plane's identity: it may call every service.
var superuser = pki.Identity{Role: pki.RoleControlPlane, ID: "test"}

// memberBundle has s's CA issue a certificate for id, as a join would.
func memberBundle(t *testing.T, s *Server, id pki.Identity, life time.Duration) *pki.Bundle {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := pki.NewCSR(key, id)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := s.trust.ca.SignCSR(csr, id, time.Now(), life)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.recordCert(testCtx(t), id, cert); err != nil {
		t.Fatal(err)
	}
	return &pki.Bundle{Key: key, Cert: cert, CA: s.trust.ca.Cert}
}

// memberCreds is mutual TLS to s as id.
func memberCreds(t *testing.T, s *Server, id pki.Identity) credentials.TransportCredentials {
	t.Helper()
	return bundleCreds(memberBundle(t, s, id, time.Hour))
}

func bundleCreds(b *pki.Bundle) credentials.TransportCredentials {
	cert := b.TLSCertificate()
	return credentials.NewTLS(pki.ClientTLS(b.CA, func() *tls.Certificate { return cert }))
}

// dialWith connects to s with the given transport credentials.
func dialWith(t *testing.T, s *Server, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func parseCert(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }
