package controlplane

import (
	"context"
	"fmt"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// tokensPrefix holds join tokens: <id> StoredJoinToken (the secret's
// SHA-256, never the secret).
const tokensPrefix = prefix + "tokens/"

func tokenKey(id string) string { return tokensPrefix + id }

// CreateJoinToken makes a join token for role valid for ttl (0: 24h). The
// whole token is returned once; etcd keeps only its secret's hash.
func (c *Controller) CreateJoinToken(ctx context.Context, role zakiv1.Role, ttl time.Duration,
	description string) (string, *zakiv1.JoinTokenInfo, error) {
	if ttl == 0 {
		ttl = defaultTokenTTL
	}
	tok, err := pki.NewToken(c.trust.ca.Hash())
	if err != nil {
		return "", nil, err
	}
	now := c.now()
	info := &zakiv1.JoinTokenInfo{Id: tok.ID, Role: role, Description: description,
		CreatedAt: timestamppb.New(now), ExpiresAt: timestamppb.New(now.Add(ttl))}
	stored := &zakiv1.StoredJoinToken{Info: info, SecretSha256: tok.SecretHash()}
	txn, err := c.cli.Txn(ctx).If(absent(tokenKey(tok.ID))).Then(putProto(tokenKey(tok.ID), stored)).Commit()
	if err != nil {
		return "", nil, fmt.Errorf("%w: store join token: %v", errUnavailable, err)
	}
	if !txn.Succeeded {
		return "", nil, fmt.Errorf("%w: join token id %s", errExists, tok.ID)
	}
	c.log.Info("join token created", "token_id", tok.ID, "role", roleName(role), "expires", info.ExpiresAt.AsTime())
	return tok.String(), info, nil
}

// ListJoinTokens returns every join token's description, by id. Secrets
// are not kept, so they cannot be listed.
func (c *Controller) ListJoinTokens(ctx context.Context) ([]*zakiv1.JoinTokenInfo, error) {
	resp, err := c.cli.Get(ctx, tokensPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("%w: list join tokens: %v", errUnavailable, err)
	}
	out := make([]*zakiv1.JoinTokenInfo, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var st zakiv1.StoredJoinToken
		if err := proto.Unmarshal(kv.Value, &st); err != nil {
			return nil, fmt.Errorf("join token %s: %w", kv.Key, err)
		}
		out = append(out, st.Info)
	}
	return out, nil
}

// RevokeJoinToken marks a token revoked: it can no longer join anyone.
// Members that joined with it keep their certificates. Revoking twice is fine.
func (c *Controller) RevokeJoinToken(ctx context.Context, id string) error {
	return c.updateToken(ctx, id, func(st *zakiv1.StoredJoinToken) error {
		st.Info.Revoked = true
		return nil
	})
}

// updateToken applies fn to a stored token in a transaction guarded by its
// revision, reading again on a conflicting write.
func (c *Controller) updateToken(ctx context.Context, id string, fn func(*zakiv1.StoredJoinToken) error) error {
	for range 5 {
		resp, err := c.cli.Get(ctx, tokenKey(id))
		if err != nil {
			return fmt.Errorf("%w: read join token %s: %v", errUnavailable, id, err)
		}
		if len(resp.Kvs) == 0 {
			return fmt.Errorf("%w: join token %s", errNotFound, id)
		}
		var st zakiv1.StoredJoinToken
		if err := proto.Unmarshal(resp.Kvs[0].Value, &st); err != nil {
			return fmt.Errorf("join token %s: %w", id, err)
		}
		if err := fn(&st); err != nil {
			return err
		}
		ok, err := c.putIfUnchanged(ctx, tokenKey(id), resp.Kvs[0].ModRevision, &st)
		if err != nil {
			return fmt.Errorf("%w: update join token %s: %v", errUnavailable, id, err)
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("%w: join token %s", errConflict, id)
}

// pkiRole maps the API's role to a certificate's.
func pkiRole(r zakiv1.Role) (pki.Role, bool) {
	switch r {
	case zakiv1.Role_ROLE_AGENT:
		return pki.RoleAgent, true
	case zakiv1.Role_ROLE_ROUTER:
		return pki.RoleRouter, true
	case zakiv1.Role_ROLE_ADMIN:
		return pki.RoleAdmin, true
	case zakiv1.Role_ROLE_CONTROLPLANE:
		return pki.RoleControlPlane, true
	}
	return "", false
}

// apiRole maps a certificate's role to the API's.
func apiRole(r pki.Role) zakiv1.Role {
	for _, a := range []zakiv1.Role{zakiv1.Role_ROLE_AGENT, zakiv1.Role_ROLE_ROUTER,
		zakiv1.Role_ROLE_ADMIN, zakiv1.Role_ROLE_CONTROLPLANE} {
		if p, _ := pkiRole(a); p == r {
			return a
		}
	}
	return zakiv1.Role_ROLE_UNSPECIFIED
}

func roleName(r zakiv1.Role) string {
	p, _ := pkiRole(r)
	return string(p)
}
