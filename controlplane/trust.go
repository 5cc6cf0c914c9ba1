package controlplane

import (
	"context"
	"net"
	"path/filepath"
	"time"

	"github.com/zaki-platform/zaki/internal/pki"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Trust defaults.
const (
	defaultCertLifetime = 30 * 24 * time.Hour
	defaultTokenTTL     = 24 * time.Hour
	// adminCertLifetime is the operator certificate's; it is rewritten at a
	// start past half of it.
	adminCertLifetime = 365 * 24 * time.Hour
)

// trust is the cluster's trust: the CA, the control plane's own serving
// certificate, the set of revoked certificates, and what joiners are told.
// Join tokens and issued certificates live in etcd (tokens.go, join.go).
type trust struct {
	ca       *pki.CA
	now      func() time.Time
	certLife time.Duration
	server   *serverCert
	revoked  *revokedSet
	// joinAddr is the address printed in join commands; "" when unknown.
	joinAddr string
}

// trustDefaults sets the defaults of the trust fields.
func (c Config) trustDefaults() Config {
	if c.CertLifetime <= 0 {
		c.CertLifetime = defaultCertLifetime
	}
	if c.AdminDir == "" && c.DataDir != "" {
		c.AdminDir = filepath.Join(c.DataDir, "admin")
	}
	return c
}

// newTrust loads (or on first start makes) the cluster CA, loads the revoked
// serials, and writes the operator's credentials when they are missing or
// stale. addr is the bound gRPC address.
func newTrust(ctx context.Context, cli *clientv3.Client, cfg Config, addr string) (*trust, error) {
	kek, kekPath, err := loadKEK(cfg)
	if err != nil {
		return nil, err
	}
	ca, created, err := loadOrCreateCA(ctx, cli, kek, kekPath, cfg.Now())
	if err != nil {
		return nil, err
	}
	if created {
		cfg.Logger.Info("made the cluster CA", "ca", shortHash(ca.Hash()))
	}
	revoked := newRevokedSet()
	if _, err := revoked.load(ctx, cli); err != nil {
		return nil, err
	}
	t := &trust{ca: ca, now: cfg.Now, certLife: cfg.CertLifetime, revoked: revoked,
		server:   newServerCert(ca, serverNames(addr, cfg.AdvertiseNames), cfg.Now, cfg.CertLifetime),
		joinAddr: joinAddress(addr, cfg.AdvertiseNames)}
	if _, err := t.server.get(); err != nil {
		return nil, err
	}
	if cfg.AdminDir != "" {
		if err := writeAdminCredentials(cfg.AdminDir, ca, cfg.Now(), cfg.Logger); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// useTrust wires the trust into the controller, including the node-removal
// hook that revokes a removed node's certificates.
func (c *Controller) useTrust(t *trust) {
	c.trust = t
	c.fleet.revokeNodeCerts = c.revokeNodeCerts
}

// serverNames are the extra SANs of the serving certificate: loopback, the
// listen host when it names one, and the advertised names.
func serverNames(addr string, advertise []string) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			names = append(names, host)
		}
	}
	return append(names, advertise...)
}

// joinAddress is what joiners should dial: the first advertised name with
// the gRPC port, else the bound address unless it is a wildcard.
func joinAddress(addr string, advertise []string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if len(advertise) > 0 {
		return net.JoinHostPort(advertise[0], port)
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return ""
	}
	return addr
}

// shortHash is a CA hash cut for logs and errors: enough to tell CAs apart.
func shortHash(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
