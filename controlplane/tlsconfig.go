package controlplane

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/internal/pki"
)

// serverIdentity names every control plane's serving certificate.
var serverIdentity = pki.Identity{Role: pki.RoleControlPlane, ID: "controlplane"}

// serverCert is the control plane's serving certificate, issued by the CA
// at start and again once past half its lifetime, so a control plane that
// runs for months never serves an expired one.
type serverCert struct {
	ca    *pki.CA
	names []string
	now   func() time.Time
	life  time.Duration

	mu   sync.Mutex
	cert *tls.Certificate // guarded by mu
}

func newServerCert(ca *pki.CA, names []string, now func() time.Time, life time.Duration) *serverCert {
	return &serverCert{ca: ca, names: names, now: now, life: life}
}

// get returns the current certificate, issuing a new one when due. The CA
// rides along in the chain: a joiner pins it by the token's hash.
func (s *serverCert) get() (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cert != nil && now.Before(pki.RenewAt(s.cert.Leaf, 0)) {
		return s.cert, nil
	}
	key, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	leaf, err := s.ca.IssueServer(&key.PublicKey, serverIdentity, s.names, now, s.life)
	if err != nil {
		return nil, err
	}
	s.cert = &tls.Certificate{Certificate: [][]byte{leaf.Raw, s.ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}
	return s.cert, nil
}

// serverTLS is the gRPC server's TLS: client certificates verified when
// given; which calls need one is the interceptors' decision (authz.go).
func (t *trust) serverTLS() *tls.Config {
	return pki.ServerTLS(t.ca.Cert, t.server.get)
}

// writeAdminCredentials gives the operator a certificate for zaki ctl in
// dir, like k3s writes its kubeconfig: on first start, and again when the
// one there is from another CA, unreadable, or past half its lifetime.
func writeAdminCredentials(dir string, ca *pki.CA, now time.Time, log hclog.Logger) error {
	b, err := pki.ReadBundle(dir)
	if err == nil && b.CA.Equal(ca.Cert) && now.Before(pki.RenewAt(b.Cert, 0)) {
		return nil
	}
	if err != nil && !errors.Is(err, pki.ErrNoBundle) {
		log.Warn("replacing unreadable admin credentials", "path", dir, "error", err)
	}
	key, err := pki.NewKey()
	if err != nil {
		return err
	}
	id := pki.Identity{Role: pki.RoleAdmin, ID: "admin"}
	csr, err := pki.NewCSR(key, id)
	if err != nil {
		return err
	}
	cert, err := ca.SignCSR(csr, id, now, adminCertLifetime)
	if err != nil {
		return err
	}
	if err := pki.WriteBundle(dir, &pki.Bundle{Key: key, Cert: cert, CA: ca.Cert}); err != nil {
		return fmt.Errorf("admin credentials: %w", err)
	}
	log.Info("wrote the operator's credentials for zaki ctl (keep them private)", "path", dir)
	return nil
}
