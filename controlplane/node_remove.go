package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strings"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// RemoveNode forgets node id: its certificates are revoked, its record, down
// marker and port claims deleted, and its live session ended. A node that
// holds tenants is refused unless force is set; then each of its tenants is
// left FAILED without a node (its data stays on that host: nothing starts a
// blank container elsewhere) and its port cools down.
func (c *Controller) RemoveNode(ctx context.Context, id string, force bool) error {
	// Under the scheduler's lock, so that no tenant lands on the node while
	// it is being removed.
	c.schedMu.Lock()
	defer c.schedMu.Unlock()
	for range maxTxnAttempts {
		err := c.removeNodeOnce(ctx, id, force)
		if !errors.Is(err, errRetry) {
			return err
		}
	}
	return fmt.Errorf("%w: remove node %s", errConflict, id)
}

func (c *Controller) removeNodeOnce(ctx context.Context, id string, force bool) error {
	v, err := c.loadView(ctx)
	if err != nil {
		return err
	}
	if v.nodes[id] == nil {
		return fmt.Errorf("%w: node %s", errNotFound, id)
	}
	held := tenantsOn(v, id)
	if len(held) > 0 && !force {
		return fmt.Errorf("%w: node %s holds %d tenant(s) (%s); move them off first, or force it: "+
			"they are then left failed, their data on that host", errPrecondition, id, len(held),
			strings.Join(held, ", "))
	}
	if err := c.fleet.revokeNodeCerts(ctx, id); err != nil {
		return fmt.Errorf("revoke certificates of node %s: %w", id, err)
	}
	if len(held) > 0 {
		lease, err := c.cooldownLease(ctx)
		if err != nil {
			return err
		}
		for _, t := range held {
			if err := c.orphan(ctx, v, t, lease); err != nil {
				return err
			}
		}
	}
	resp, err := c.cli.Txn(ctx).
		If(present(nodeKey(id)), clientv3.Compare(clientv3.ModRevision(nodeKey(id)), "<", v.rev+1)).
		Then(clientv3.OpDelete(nodeKey(id)), clientv3.OpDelete(downKey(id)),
			clientv3.OpDelete(portsPrefix+id+"/", clientv3.WithPrefix()),
			clientv3.OpDelete(leftoversPrefix+id+"/", clientv3.WithPrefix())).Commit()
	if err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	if !resp.Succeeded {
		return errRetry
	}
	c.sessions.end(id, fmt.Errorf("%w: node %s was removed", errSessionClosed, id))
	c.sessions.forget(id)
	c.log.Info("node removed", "node", id, "tenants", len(held))
	return nil
}

// orphan leaves tenant t, placed on a node being removed, FAILED without a
// node, and releases its port, in one transaction guarded by the placement's
// revision.
func (c *Controller) orphan(ctx context.Context, v *view, t string, lease clientv3.LeaseID) error {
	old := v.placements[t]
	p := proto.Clone(old).(*zakiv1.Placement)
	p.NodeId, p.HostPort, p.Generation, p.Move = "", 0, old.Generation+1, nil
	p.State = zakiv1.PlacementState_PLACEMENT_STATE_FAILED
	p.Reason = fmt.Sprintf("node %s was removed by force while it held this tenant; its data is still "+
		"on that host", old.NodeId)
	p.UpdatedAt = timestamppb.New(c.now())
	ops := []clientv3.Op{putProto(placementKey(t), p)}
	if old.HostPort != 0 {
		ops = append(ops, releasePort(old.NodeId, old.HostPort, t, lease)...)
	}
	if m := old.Move; m != nil {
		// A move off the removed node ends with it: its data cannot be read.
		ops = append(ops, releasePort(m.ToNodeId, m.ToHostPort, t, lease)...)
	}
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(placementKey(t)), "=", v.placementRevs[t])).
		Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("release tenant %s from node %s: %w", t, old.NodeId, err)
	}
	if !resp.Succeeded {
		return errRetry
	}
	c.log.Warn("tenant left without a node", "tenant", t, "node", old.NodeId)
	return nil
}

// tenantsOn is the ids of the tenants placed on node id, sorted.
func tenantsOn(v *view, id string) []string {
	var out []string
	for _, t := range sortedKeys(v.placements) {
		if v.placements[t].NodeId == id {
			out = append(out, t)
		}
	}
	return out
}

// validateRemoveNode checks a RemoveNode request.
func validateRemoveNode(r *zakiv1.RemoveNodeRequest) error {
	if r.NodeId == "" {
		return fmt.Errorf("%w: node_id is required", errInvalid)
	}
	return nil
}
