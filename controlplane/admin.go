package controlplane

import (
	"context"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/secret"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ListNodes returns every registered node, by id, with its session and what
// is reserved on it.
func (c *Controller) ListNodes(ctx context.Context) ([]*zakiv1.NodeStatus, error) {
	v, err := c.loadView(ctx)
	if err != nil {
		return nil, err
	}
	use := usageByNode(v)
	out := make([]*zakiv1.NodeStatus, 0, len(v.nodes))
	for _, id := range sortedKeys(v.nodes) {
		live, heard := c.sessions.status(id)
		st := &zakiv1.NodeStatus{Node: v.nodes[id], Connected: live,
			Tenants: use[id].tenants, MemoryReservedBytes: use[id].memBytes}
		if !heard.IsZero() {
			st.LastHeartbeat = timestamppb.New(heard)
		}
		out = append(out, st)
	}
	return out, nil
}

// ListTenants returns every tenant, by id, with its placement, chats and
// parked count. Secrets appear only as fingerprints.
func (c *Controller) ListTenants(ctx context.Context) ([]*zakiv1.TenantStatus, error) {
	v, err := c.loadView(ctx)
	if err != nil {
		return nil, err
	}
	parked, err := c.ParkedCounts(ctx)
	if err != nil {
		return nil, err
	}
	chats := v.chatIDs()
	out := make([]*zakiv1.TenantStatus, 0, len(v.tenants))
	for _, id := range sortedKeys(v.tenants) {
		st := &zakiv1.TenantStatus{Tenant: v.tenants[id], Placement: v.placements[id],
			ChatIds: chats[id], ParkedUpdates: parked[id]}
		s := v.secrets[id]
		st.WebhookSecretFingerprint = secret.Fingerprint(s.GetWebhookSecret())
		st.BotApiSecretFingerprint = secret.Fingerprint(s.GetBotApiSecret())
		out = append(out, st)
	}
	return out, nil
}

// ListParkedTenants returns the ids of tenants that have parked updates.
func (c *Controller) ListParkedTenants(ctx context.Context) ([]string, error) {
	counts, err := c.ParkedCounts(ctx)
	if err != nil {
		return nil, err
	}
	return sortedKeys(counts), nil
}
