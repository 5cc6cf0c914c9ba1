package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"time"
)

// NewCSR makes a PKCS#10 request, DER, for key. The subject is only a hint:
// the CA decides the identity it signs.
func NewCSR(key *ecdsa.PrivateKey, id Identity) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: id.ID, OrganizationalUnit: []string{string(id.Role)}},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("pki: make a certificate request: %w", err)
	}
	return der, nil
}

// ParseCSR parses a PKCS#10 request and checks that its signature proves
// possession of its key.
func ParseCSR(der []byte) (*x509.CertificateRequest, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse the certificate request: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("pki: certificate request signature: %w", err)
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, fmt.Errorf("pki: want an ECDSA key in the certificate request, got %T", csr.PublicKey)
	}
	return csr, nil
}

// SignCSR issues a client certificate for the CSR's key naming id, valid from
// now for lifetime. The CSR's subject is ignored: the identity is the CA's
// decision, taken from the join token or the current certificate.
func (ca *CA) SignCSR(csrDER []byte, id Identity, now time.Time, lifetime time.Duration) (*x509.Certificate, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	csr, err := ParseCSR(csrDER)
	if err != nil {
		return nil, err
	}
	return ca.issue(csr.PublicKey, id, nil, now, lifetime)
}

// IssueServer issues a control plane's certificate: a server (and client)
// certificate for ServerName and the given extra DNS names and IP addresses.
func (ca *CA) IssueServer(pub crypto.PublicKey, id Identity, names []string, now time.Time,
	lifetime time.Duration) (*x509.Certificate, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	return ca.issue(pub, id, append([]string{ServerName}, names...), now, lifetime)
}

func (ca *CA) issue(pub crypto.PublicKey, id Identity, hosts []string, now time.Time,
	lifetime time.Duration) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(lifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id.ID, OrganizationalUnit: []string{string(id.Role)}},
		NotBefore:    now.Add(-min(clockSkew, lifetime/10)),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{id.URI()},
	}
	if hosts != nil {
		// Only control planes serve: a member's certificate must never pass
		// as the server's, which Go's client checks through this usage.
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: sign a certificate for %s: %w", id, err)
	}
	return x509.ParseCertificate(der)
}
