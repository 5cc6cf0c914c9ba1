package member

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/zaki-platform/zaki/internal/pki"
	"google.golang.org/grpc/credentials"
)

// addrFile keeps, beside the bundle, the control-plane addresses the member
// joined through (comma-separated, as given), so later starts need no flag.
const addrFile = "controlplane"

// Credentials are a member's key, certificate and cluster CA, read from a
// directory; after a renewal the new certificate is presented on every new
// connection. Safe for concurrent use.
type Credentials struct {
	dir  string
	addr string // the control plane joined through; "" when not recorded
	cur  atomic.Pointer[current]
}

// current is one certificate with its TLS form, swapped whole on renewal.
type current struct {
	b   *pki.Bundle
	tls *tls.Certificate
}

// Load reads the credentials in dir. A directory without them gives an
// error wrapping pki.ErrNoBundle.
func Load(dir string) (*Credentials, error) {
	b, err := pki.ReadBundle(dir)
	if err != nil {
		return nil, err
	}
	c := &Credentials{dir: dir, addr: StoredControlPlane(dir)}
	c.set(b)
	return c, nil
}

// save writes b (and the address) into dir, then uses it.
func save(dir, addr string, b *pki.Bundle) (*Credentials, error) {
	if err := pki.WriteBundle(dir, b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, addrFile), []byte(addr+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	c := &Credentials{dir: dir, addr: addr}
	c.set(b)
	return c, nil
}

func (c *Credentials) set(b *pki.Bundle) { c.cur.Store(&current{b: b, tls: b.TLSCertificate()}) }

// Bundle is the current key, certificate and CA.
func (c *Credentials) Bundle() *pki.Bundle { return c.cur.Load().b }

// Identity is who the current certificate names.
func (c *Credentials) Identity() pki.Identity {
	id, _ := c.Bundle().Identity() // checked when read
	return id
}

// ControlPlane is the addresses the member joined through, comma-separated; "" if unknown.
func (c *Credentials) ControlPlane() string { return c.addr }

// Dir is where the credentials are kept.
func (c *Credentials) Dir() string { return c.dir }

// TLSConfig is mutual TLS to the control plane with these credentials.
func (c *Credentials) TLSConfig() *tls.Config {
	return pki.ClientTLS(c.Bundle().CA, func() *tls.Certificate { return c.cur.Load().tls })
}

// TransportCredentials is TLSConfig for a gRPC client.
func (c *Credentials) TransportCredentials() credentials.TransportCredentials {
	return credentials.NewTLS(c.TLSConfig())
}

// ErrNotJoined is wrapped when a member has no credentials and no token.
var ErrNotJoined = errors.New("not joined to a cluster yet")

// StoredControlPlane is the addresses kept in dir by a join, comma-separated; "" when none.
func StoredControlPlane(dir string) string {
	addr, err := os.ReadFile(filepath.Join(dir, addrFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(addr))
}
