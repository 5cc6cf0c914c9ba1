package controlplane

import (
	"context"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// placementFor turns a scheduling choice into a placement. A scheduled one
// gets the next generation after prevGen; a pending one keeps prevGen, since
// no agent has anything to apply yet.
func placementFor(id string, ch choice, prevGen uint64, now *timestamppb.Timestamp) *zakiv1.Placement {
	if ch.failure != "" {
		return &zakiv1.Placement{TenantId: id, Generation: prevGen, UpdatedAt: now,
			State: zakiv1.PlacementState_PLACEMENT_STATE_PENDING, Reason: ch.detail}
	}
	return &zakiv1.Placement{TenantId: id, NodeId: ch.nodeID, HostPort: ch.port,
		Generation: prevGen + 1, UpdatedAt: now,
		State: zakiv1.PlacementState_PLACEMENT_STATE_SCHEDULED}
}

// schedulePending tries once to place every PENDING tenant, in tenant id
// order. A placement that lost a race is left for the next pass.
func (c *Controller) schedulePending(ctx context.Context) error {
	c.schedMu.Lock()
	defer c.schedMu.Unlock()
	v, err := c.loadView(ctx)
	if err != nil {
		return err
	}
	connected := c.sessions.connected()
	for _, id := range sortedKeys(v.placements) {
		p, t := v.placements[id], v.tenants[id]
		if p.State != zakiv1.PlacementState_PLACEMENT_STATE_PENDING || t == nil {
			continue
		}
		ch := schedule(v, connected, t, c.fleet.policy)
		if ch.failure != "" && ch.detail == p.Reason {
			continue // nothing new to say
		}
		next := placementFor(id, ch, p.Generation, timestamppb.New(c.now()))
		ok, err := c.commitPlacement(ctx, v.placementRevs[id], next)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		c.recordPlacement(t, next, ch, false)
		v.placements[id] = next
		if ch.failure == "" {
			if v.ports[ch.nodeID] == nil {
				v.ports[ch.nodeID] = map[uint32]string{}
			}
			v.ports[ch.nodeID][ch.port] = id
		}
	}
	return nil
}

// commitPlacement writes p if its key is still at modRev, claiming its port
// when it is placed on a node. It reports whether it won.
func (c *Controller) commitPlacement(ctx context.Context, modRev int64, p *zakiv1.Placement,
) (bool, error) {
	key := placementKey(p.TenantId)
	cmps := c.fenced(clientv3.Compare(clientv3.ModRevision(key), "=", modRev))
	ops := []clientv3.Op{putProto(key, p)}
	if p.NodeId != "" {
		claimCmps, claimOps := claimPort(p.NodeId, p.HostPort, p.TenantId)
		cmps, ops = append(cmps, claimCmps...), append(ops, claimOps...)
	}
	resp, err := c.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("write placement of tenant %s: %w", p.TenantId, err)
	}
	return resp.Succeeded, nil
}

// reportable are the states an agent may report. STOPPED is a move's
// source saying nothing runs (move_status.go); from anyone else it is
// ignored.
var reportable = map[zakiv1.PlacementState]bool{
	zakiv1.PlacementState_PLACEMENT_STATE_STARTING: true,
	zakiv1.PlacementState_PLACEMENT_STATE_RUNNING:  true,
	zakiv1.PlacementState_PLACEMENT_STATE_FAILED:   true,
	zakiv1.PlacementState_PLACEMENT_STATE_STOPPED:  true,
	// A former source saying a moved tenant's leftovers are gone (leftovers.go).
	zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED: true,
}

// applyStatus records an agent's report about one container, as afterStatus
// decides: it is ignored (applied=false) unless it is about the placement's
// generation and from a node that holds it (during a move, its source or
// target): a report about an older generation says nothing about the
// current one. The write is guarded by the placement's revision; a move's
// flip also releases the source's port, which cools down before reuse.
func (c *Controller) applyStatus(ctx context.Context, nodeID string, st *zakiv1.ContainerStatus,
) (bool, error) {
	if !reportable[st.State] {
		return false, fmt.Errorf("%w: tenant %s: state %s cannot be reported", errInvalid, st.TenantId, st.State)
	}
	if st.State == zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED {
		return c.applyDiscarded(ctx, nodeID, st)
	}
	key := placementKey(st.TenantId)
	var lease clientv3.LeaseID
	for range maxTxnAttempts {
		p, modRev, err := c.readPlacement(ctx, st.TenantId)
		if err != nil || p == nil {
			return false, err
		}
		next, effect := afterStatus(p, nodeID, st, timestamppb.New(c.now()))
		switch effect {
		case ignoreStatus:
			return false, nil
		case keepStatus:
			return true, nil
		}
		ops := []clientv3.Op{putProto(key, next)}
		if effect == flipMove && p.HostPort != 0 {
			if lease == 0 {
				if lease, err = c.cooldownLease(ctx); err != nil {
					return false, err
				}
			}
			ops = append(ops, releasePort(p.NodeId, p.HostPort, p.TenantId, lease)...)
		}
		if effect == flipMove {
			ops = append(ops, leftoverOp(p))
		}
		resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(ops...).Commit()
		if err != nil {
			return false, fmt.Errorf("write status of tenant %s: %w", st.TenantId, err)
		}
		if resp.Succeeded {
			c.noteMoveStatus(p, next, effect)
			return true, nil
		}
	}
	return false, fmt.Errorf("%w: status of tenant %s", errConflict, st.TenantId)
}

// readPlacement reads tenant id's placement and its mod revision; nil when
// it has none.
func (c *Controller) readPlacement(ctx context.Context, id string) (*zakiv1.Placement, int64, error) {
	resp, err := c.cli.Get(ctx, placementKey(id))
	if err != nil {
		return nil, 0, fmt.Errorf("read placement of tenant %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, nil
	}
	p := &zakiv1.Placement{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, p); err != nil {
		return nil, 0, fmt.Errorf("decode placement of tenant %s: %w", id, err)
	}
	return p, resp.Kvs[0].ModRevision, nil
}
