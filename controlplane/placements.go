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
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", modRev)}
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

// reportable are the states an agent may report.
var reportable = map[zakiv1.PlacementState]bool{
	zakiv1.PlacementState_PLACEMENT_STATE_STARTING: true,
	zakiv1.PlacementState_PLACEMENT_STATE_RUNNING:  true,
	zakiv1.PlacementState_PLACEMENT_STATE_FAILED:   true,
}

// applyStatus records an agent's report about one container. It is ignored
// (applied=false) unless the placement is on nodeID at the same generation:
// a report about an older generation says nothing about the current one.
func (c *Controller) applyStatus(ctx context.Context, nodeID string, st *zakiv1.ContainerStatus,
) (bool, error) {
	if !reportable[st.State] {
		return false, fmt.Errorf("%w: tenant %s: state %s cannot be reported", errInvalid, st.TenantId, st.State)
	}
	key := placementKey(st.TenantId)
	for range maxTxnAttempts {
		resp, err := c.cli.Get(ctx, key)
		if err != nil {
			return false, fmt.Errorf("read placement of tenant %s: %w", st.TenantId, err)
		}
		if len(resp.Kvs) == 0 {
			return false, nil
		}
		p := &zakiv1.Placement{}
		if err := proto.Unmarshal(resp.Kvs[0].Value, p); err != nil {
			return false, fmt.Errorf("decode placement of tenant %s: %w", st.TenantId, err)
		}
		if p.NodeId != nodeID || p.Generation != st.Generation {
			return false, nil
		}
		if p.State == st.State && p.Reason == st.Reason {
			return true, nil
		}
		p.State, p.Reason, p.UpdatedAt = st.State, st.Reason, timestamppb.New(c.now())
		ok, err := c.putIfUnchanged(ctx, key, resp.Kvs[0].ModRevision, p)
		if err != nil {
			return false, fmt.Errorf("write status of tenant %s: %w", st.TenantId, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, fmt.Errorf("%w: status of tenant %s", errConflict, st.TenantId)
}
