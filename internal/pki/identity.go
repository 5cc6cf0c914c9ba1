package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// Role is what a certificate's holder may do.
type Role string

// The roles. The control plane maps each to the services it may call.
const (
	RoleAgent        Role = "agent"
	RoleRouter       Role = "router"
	RoleAdmin        Role = "admin"
	RoleControlPlane Role = "controlplane"
)

// ServerName is the DNS name in every control-plane server certificate.
// Clients verify it instead of the address they dialled, so a control plane
// reached by IP, through NAT or under a new name needs no new certificate.
const ServerName = "zaki-controlplane"

const uriScheme = "zaki"

// idPattern is the id rule: a node id (the agent's rule) or a generated name.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Identity is who a certificate names.
type Identity struct {
	Role Role
	// ID is the node id of an agent; a generated name for other roles.
	ID string
}

// Validate checks the role and the id.
func (id Identity) Validate() error {
	switch id.Role {
	case RoleAgent, RoleRouter, RoleAdmin, RoleControlPlane:
	default:
		return fmt.Errorf("pki: unknown role %q", id.Role)
	}
	if !idPattern.MatchString(id.ID) {
		return fmt.Errorf("pki: id %q must match %s", id.ID, idPattern)
	}
	return nil
}

// URI is the identity as the certificate's URI SAN: zaki://<role>/<id>.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: uriScheme, Host: string(id.Role), Path: "/" + id.ID}
}

func (id Identity) String() string { return id.URI().String() }

// IdentityOf reads the identity from a certificate's one zaki:// URI SAN.
func IdentityOf(c *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range c.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		found = append(found, Identity{Role: Role(u.Host), ID: u.Path[min(1, len(u.Path)):]})
	}
	if len(found) != 1 {
		return Identity{}, errors.New("pki: certificate carries no single zaki:// identity")
	}
	if err := found[0].Validate(); err != nil {
		return Identity{}, err
	}
	return found[0], nil
}
