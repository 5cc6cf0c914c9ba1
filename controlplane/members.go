package controlplane

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Members are the holders of certificates this cluster issued: agents,
// routers and operators, each under the id its certificates name. They are
// read from the issued-certificate records (revocation.go), the only list
// of who holds what; the operator credentials a control plane writes for
// itself are not in it.

// ListMembers returns every holder of a live certificate (issued, not
// revoked, not expired), sorted by id, with the latest expiry among them.
func (c *Controller) ListMembers(ctx context.Context) ([]*zakiv1.Member, error) {
	resp, err := c.cli.Get(ctx, issuedPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("%w: read issued certificates: %v", errUnavailable, err)
	}
	now := c.now()
	byID := map[string]*member{}
	for _, kv := range resp.Kvs {
		id, serial, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), issuedPrefix), "/")
		if !ok || c.trust.revoked.has(serial) {
			continue
		}
		role, notAfter, err := parseIssued(kv.Value)
		if err != nil {
			c.log.Warn("skipping an unreadable issued certificate record", "node", id, "error", err)
			continue
		}
		if !now.Before(notAfter) {
			continue
		}
		m := byID[id]
		if m == nil {
			m = &member{}
			byID[id] = m
		}
		m.add(role, notAfter)
	}
	out := make([]*zakiv1.Member, 0, len(byID))
	for id, m := range byID {
		out = append(out, &zakiv1.Member{Id: id, Role: apiRole(m.role), Certificates: m.certs,
			ExpiresAt: timestamppb.New(m.expires)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}

// member gathers one holder's live certificates.
type member struct {
	role    pki.Role // of the latest-expiring record that names one; "" if none does
	roleAt  time.Time
	certs   uint32
	expires time.Time
}

func (m *member) add(role pki.Role, notAfter time.Time) {
	m.certs++
	if notAfter.After(m.expires) {
		m.expires = notAfter
	}
	// Old records carry no role: a newer one that does (a renewal) wins.
	if role != "" && (m.role == "" || notAfter.After(m.roleAt)) {
		m.role, m.roleAt = role, notAfter
	}
}

// RevokeMember revokes every certificate of member id, by being the caller,
// and says how many it revoked (expired ones included). An agent stays a
// registered node: RemoveNode also forgets it. Revoking oneself is refused,
// so an operator cannot lock themselves out by a slip.
func (c *Controller) RevokeMember(ctx context.Context, by pki.Identity, id string) (int, error) {
	if by.ID == id {
		return 0, fmt.Errorf("%w: %s is the identity making this call; revoke it with another "+
			"operator's credentials", errPrecondition, id)
	}
	n, err := c.revokeCerts(ctx, id)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: member %s holds no certificate issued by this cluster "+
			"(see `zaki ctl members`)", errNotFound, id)
	}
	c.log.Info("member revoked", "node", id, "role", string(by.Role))
	return n, nil
}

// validateRevokeMember checks a RevokeMember request: an id, one path
// segment of the issued records.
func validateRevokeMember(r *zakiv1.RevokeMemberRequest) error {
	if r.Id == "" || strings.Contains(r.Id, "/") {
		return fmt.Errorf("%w: a member id is required, as `zaki ctl members` shows it, not %q", errInvalid, r.Id)
	}
	return nil
}
