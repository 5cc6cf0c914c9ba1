package controlplane

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// errJoinRefused is a join whose token does not let it in: unknown, wrong
// secret, revoked or expired. Its messages name the token's id, never its
// secret.
var errJoinRefused = errors.New("join refused")

// Join checks a join token and signs the caller's CSR: an agent's
// certificate names the node id it asked for, other roles get a fresh id.
// Each use is counted on the token.
func (c *Controller) Join(ctx context.Context, token string, csrDER []byte, nodeID string,
) (*x509.Certificate, zakiv1.Role, error) {
	tok, err := pki.ParseToken(token)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", errInvalid, err)
	}
	if tok.CAHash != c.trust.ca.Hash() {
		return nil, 0, fmt.Errorf("%w: join token %s was made for another cluster CA (%s), not this one (%s)",
			errPrecondition, tok.ID, shortHash(tok.CAHash), shortHash(c.trust.ca.Hash()))
	}
	if err := c.checkNodeFree(ctx, nodeID); err != nil {
		return nil, 0, err
	}
	var cert *x509.Certificate
	var role zakiv1.Role
	err = c.updateToken(ctx, tok.ID, func(st *zakiv1.StoredJoinToken) error {
		if err := c.checkToken(tok, st); err != nil {
			return err
		}
		if err := checkRequestedRole(csrDER, tok.ID, st.Info.Role); err != nil {
			return err
		}
		id, err := joinIdentity(st.Info.Role, nodeID)
		if err != nil {
			return err
		}
		if cert, err = c.trust.ca.SignCSR(csrDER, id, c.now(), c.trust.certLife); err != nil {
			return fmt.Errorf("%w: %v", errInvalid, err)
		}
		role = st.Info.Role
		st.Info.Uses++
		return nil
	})
	if errors.Is(err, errNotFound) {
		err = fmt.Errorf("%w: join token %s is unknown or its secret is wrong", errJoinRefused, tok.ID)
	}
	if err != nil {
		return nil, 0, err
	}
	id, _ := pki.IdentityOf(cert)
	if err := c.recordCert(ctx, id, cert); err != nil {
		return nil, 0, err
	}
	c.log.Info("member joined", "node", id.ID, "role", string(id.Role), "token_id", tok.ID)
	return cert, role, nil
}

// checkNodeFree refuses a join as a node id that is already in use, by a
// registered node or by a live certificate: a join token must never let a
// second host take over an existing node and its tenants.
// TODO(#3): two joins racing for one new id can both pass; guard the issued
// record with create-revision == 0 in the token's transaction.
func (c *Controller) checkNodeFree(ctx context.Context, nodeID string) error {
	if nodeID == "" {
		return nil
	}
	taken := fmt.Errorf("%w: node %s already exists: a join never takes over a node; remove it first "+
		"with `zaki ctl nodes rm %s`, or join with another --node-id", errPrecondition, nodeID, nodeID)
	node, err := c.cli.Get(ctx, nodeKey(nodeID), clientv3.WithCountOnly())
	if err != nil {
		return fmt.Errorf("%w: read node %s: %v", errUnavailable, nodeID, err)
	}
	if node.Count > 0 {
		return taken
	}
	issued, err := c.cli.Get(ctx, issuedPrefix+nodeID+"/", clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("%w: read certificates of %s: %v", errUnavailable, nodeID, err)
	}
	for _, kv := range issued.Kvs {
		if _, notAfter, err := parseIssued(kv.Value); err != nil || c.now().Before(notAfter) {
			return taken
		}
	}
	return nil
}

// checkToken decides whether a stored token lets tok in, in an order that
// says nothing about a token to someone without its secret.
func (c *Controller) checkToken(tok pki.Token, st *zakiv1.StoredJoinToken) error {
	switch {
	case !tok.SecretMatches(st.SecretSha256):
		return fmt.Errorf("%w: join token %s is unknown or its secret is wrong", errJoinRefused, tok.ID)
	case st.Info.Revoked:
		return fmt.Errorf("%w: join token %s was revoked: make a new one with `zaki ctl token create`",
			errJoinRefused, tok.ID)
	case !c.now().Before(st.Info.ExpiresAt.AsTime()):
		return fmt.Errorf("%w: join token %s expired at %s: make a new one with `zaki ctl token create`",
			errJoinRefused, tok.ID, st.Info.ExpiresAt.AsTime().UTC().Format("2006-01-02 15:04:05Z"))
	}
	return nil
}

// checkRequestedRole refuses, before the token is used up, a joiner whose
// request names another role than the token's: an agent handed a router
// token learns so at once, and no certificate nobody keeps is issued. A
// request that names no role is left to the token.
func checkRequestedRole(csrDER []byte, tokenID string, role zakiv1.Role) error {
	csr, err := pki.ParseCSR(csrDER)
	if err != nil {
		return fmt.Errorf("%w: %v", errInvalid, err)
	}
	want, ok := pkiRole(role)
	if ous := csr.Subject.OrganizationalUnit; ok && len(ous) == 1 && ous[0] != "" && pki.Role(ous[0]) != want {
		return fmt.Errorf("%w: join token %s is for role %s, but this joiner asks to be %s: make one with "+
			"`zaki ctl token create --role %s`", errPrecondition, tokenID, want, ous[0], ous[0])
	}
	return nil
}

// joinIdentity is who a joiner becomes: an agent the node it names, others
// a fresh "<role>-<random>".
func joinIdentity(role zakiv1.Role, nodeID string) (pki.Identity, error) {
	r, ok := pkiRole(role)
	if !ok || r == pki.RoleControlPlane {
		return pki.Identity{}, fmt.Errorf("%w: a token of role %v cannot join", errInvalid, role)
	}
	if r != pki.RoleAgent {
		var b [4]byte
		_, _ = rand.Read(b[:])
		return pki.Identity{Role: r, ID: string(r) + "-" + hex.EncodeToString(b[:])}, nil
	}
	id := pki.Identity{Role: r, ID: nodeID}
	if err := id.Validate(); err != nil {
		return pki.Identity{}, fmt.Errorf("%w: an agent joins with its node id: %v", errInvalid, err)
	}
	return id, nil
}

// Renew signs a new certificate for the identity of the caller's current
// one. The interceptor has checked that certificate (valid, not revoked).
func (c *Controller) Renew(ctx context.Context, id pki.Identity, csrDER []byte) (*x509.Certificate, error) {
	cert, err := c.trust.ca.SignCSR(csrDER, id, c.now(), c.trust.certLife)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errInvalid, err)
	}
	if err := c.recordCert(ctx, id, cert); err != nil {
		return nil, err
	}
	c.log.Debug("certificate renewed", "node", id.ID, "role", string(id.Role))
	return cert, nil
}

// recordCert remembers an issued certificate under its holder, with its
// role, so the holder can be listed and removing it revokes it.
func (c *Controller) recordCert(ctx context.Context, id pki.Identity, cert *x509.Certificate) error {
	if _, err := c.cli.Do(ctx, recordIssued(id, pki.SerialString(cert), cert.NotAfter)); err != nil {
		return fmt.Errorf("%w: record certificate of %s: %v", errUnavailable, id.ID, err)
	}
	return nil
}
