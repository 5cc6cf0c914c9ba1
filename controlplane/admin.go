package controlplane

import (
	"context"
	"fmt"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/secret"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ListNodes returns every registered node, by id, with its session and what
// is reserved on it. Its state is as shown: DOWN or UNKNOWN override the
// stored state (heartbeat.go).
func (c *Controller) ListNodes(ctx context.Context) ([]*zakiv1.NodeStatus, error) {
	v, err := c.loadView(ctx)
	if err != nil {
		return nil, err
	}
	use := usageByNode(v)
	out := make([]*zakiv1.NodeStatus, 0, len(v.nodes))
	for _, id := range sortedKeys(v.nodes) {
		live, heard := c.sessions.status(id)
		n := proto.Clone(v.nodes[id]).(*zakiv1.Node)
		n.State = c.shownState(v, id)
		st := &zakiv1.NodeStatus{Node: n, Connected: live,
			Tenants: use[id].tenants, MemoryReservedBytes: use[id].memBytes}
		if !heard.IsZero() {
			st.LastHeartbeat = timestamppb.New(heard)
		}
		out = append(out, st)
	}
	return out, nil
}

// ListTenants returns every tenant, by id, with its placement, chats and
// parked count. Secrets appear only as fingerprints. A tenant whose node is
// down or unknown shows why it waits in its placement's reason.
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
		st := &zakiv1.TenantStatus{Tenant: v.tenants[id], Placement: c.shownPlacement(v, id),
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

// shownPlacement is tenant id's placement, its reason saying so when its
// node is down or not heard from since this control plane started (its node
// and state are kept: the tenant waits for its node, nothing moves it), or
// when it waits to move off a draining node. A moving placement carries its
// move as it is.
func (c *Controller) shownPlacement(v *view, id string) *zakiv1.Placement {
	p := v.placements[id]
	if p == nil || p.NodeId == "" || v.nodes[p.NodeId] == nil {
		return p
	}
	if to := p.GetMove().GetToNodeId(); to != "" && v.nodes[to] != nil {
		switch c.shownState(v, to) {
		case zakiv1.NodeState_NODE_STATE_DOWN, zakiv1.NodeState_NODE_STATE_UNKNOWN:
			// The tenant is stopped on its source and nothing can start it
			// elsewhere: say what it waits for.
			shown := proto.Clone(p).(*zakiv1.Placement)
			shown.Reason = fmt.Sprintf("target node %s is not reporting; the move waits for it "+
				"to return, its updates parked (a move cannot be cancelled yet)", to)
			return shown
		}
	}
	var why string
	switch c.shownState(v, p.NodeId) {
	case zakiv1.NodeState_NODE_STATE_DOWN:
		// Its agent is silent, but its container may still answer: the
		// router keeps forwarding and parks only what does not get through.
		why = fmt.Sprintf("node %s is down since %s; the tenant waits for it, and updates its "+
			"container cannot take are parked", p.NodeId, v.down[p.NodeId].UTC().Format(time.RFC3339))
		if v.down[p.NodeId].IsZero() {
			why = fmt.Sprintf("node %s is down; the tenant waits for it, and updates its container "+
				"cannot take are parked", p.NodeId)
		}
	case zakiv1.NodeState_NODE_STATE_UNKNOWN:
		why = fmt.Sprintf("node %s has not reported since the current control-plane leader took over at %s; waiting for it",
			p.NodeId, c.rep.graceStart().UTC().Format(time.RFC3339))
	case zakiv1.NodeState_NODE_STATE_DRAINING:
		if p.Move != nil || p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING {
			return p
		}
		why = c.drainWait(v, id, p.NodeId)
	default:
		return p
	}
	shown := proto.Clone(p).(*zakiv1.Placement)
	shown.Reason = why
	return shown
}
