package controlplane

import (
	"context"
	"fmt"
	"strings"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// Leftovers. When a move flips to its target, the source still holds the
// tenant's stopped container and its volume: a copy of one person's data on
// a host they left. The flip records it under leftovers/<source>/<tenant>
// (the former placement there), and the source's desired set carries a
// discard assignment for it until its agent reports DISCARDED at that
// generation; the record is then deleted. A record outlives agent restarts
// and control-plane changes, so the cleanup happens whenever the node is
// next heard from. A move back to that node drops the record first (its
// restore wipes the volume anyway), and removing the node drops them all.
const leftoversPrefix = prefix + "leftovers/" // <node_id>/<tenant_id> Placement

func leftoverKey(node, tenant string) string { return leftoversPrefix + node + "/" + tenant }

// parseLeftoverKey splits leftovers/<node_id>/<tenant_id>.
func parseLeftoverKey(key string) (node, tenant string, ok bool) {
	rest, found := strings.CutPrefix(key, leftoversPrefix)
	if !found {
		return "", "", false
	}
	node, tenant, found = strings.Cut(rest, "/")
	return node, tenant, found && node != "" && tenant != ""
}

// leftoverOp records what flipping p to its move's target leaves on p's node.
func leftoverOp(p *zakiv1.Placement) clientv3.Op {
	return putProto(leftoverKey(p.NodeId, p.TenantId), &zakiv1.Placement{TenantId: p.TenantId,
		NodeId: p.NodeId, HostPort: p.HostPort, Generation: p.Generation})
}

// putLeftover decodes one leftover record into the view.
func (v *view) putLeftover(key string, val []byte) error {
	node, tenant, ok := parseLeftoverKey(key)
	if !ok {
		return nil
	}
	p := &zakiv1.Placement{}
	if err := proto.Unmarshal(val, p); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	if v.leftovers[node] == nil {
		v.leftovers[node] = map[string]*zakiv1.Placement{}
	}
	v.leftovers[node][tenant] = p
	return nil
}

func (v *view) removeLeftover(key string) {
	if node, tenant, ok := parseLeftoverKey(key); ok {
		delete(v.leftovers[node], tenant)
	}
}

// addDiscards adds to node's assignments a discard for each leftover there
// of a tenant the node has no other assignment for.
func addDiscards(v *view, nodeID string, out map[string]*zakiv1.Assignment) {
	for id, p := range v.leftovers[nodeID] {
		if _, ok := out[id]; ok {
			continue
		}
		a := &zakiv1.Assignment{TenantId: id, Generation: p.Generation, HostPort: p.HostPort, Discard: true}
		if t := v.tenants[id]; t != nil {
			a.Profile, a.Kind, a.OwnerUserId, a.Tier = t.Profile, t.Kind, t.OwnerUserId, t.Tier
		}
		out[id] = a
	}
}

// applyDiscarded deletes node's leftover record of the reported tenant when
// the report is about that record's generation; applied says it was.
func (c *Controller) applyDiscarded(ctx context.Context, nodeID string, st *zakiv1.ContainerStatus) (bool, error) {
	key := leftoverKey(nodeID, st.TenantId)
	resp, err := c.cli.Get(ctx, key)
	if err != nil {
		return false, fmt.Errorf("read leftovers of tenant %s on node %s: %w", st.TenantId, nodeID, err)
	}
	if len(resp.Kvs) == 0 {
		return false, nil
	}
	p := &zakiv1.Placement{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, p); err != nil {
		return false, fmt.Errorf("decode %s: %w", key, err)
	}
	if p.Generation != st.Generation {
		return false, nil
	}
	del, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", resp.Kvs[0].ModRevision)).
		Then(clientv3.OpDelete(key)).Commit()
	if err != nil {
		return false, fmt.Errorf("forget leftovers of tenant %s on node %s: %w", st.TenantId, nodeID, err)
	}
	if del.Succeeded {
		c.log.Info("moved tenant's leftovers discarded", "node", nodeID, "tenant", st.TenantId,
			"generation", st.Generation)
	}
	return del.Succeeded, nil
}
