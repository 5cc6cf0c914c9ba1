package controlplane

import (
	"context"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Node records. The stored state is the operator's intent:
//
//	(new) -> ACTIVE
//	ACTIVE <-> CORDONED <-> DRAINING <-> ACTIVE      SetNodeState
//
// DRAINING moves every tenant off, with its data (drain.go); leaving it stops
// new moves and lets those in flight finish. A drained node stays DRAINING.
//
// DOWN and UNKNOWN are liveness, layered on top (heartbeat.go); they are never
// stored here, so that a cordon survives the node going down and coming back.

// upsertNode records a registering node, keeping its stored state (a record
// from before liveness was kept apart may say DOWN or UNKNOWN: that becomes
// ACTIVE), and clears its down marker in the same transaction.
func (c *Controller) upsertNode(ctx context.Context, n *zakiv1.Node) (*zakiv1.Node, error) {
	key := nodeKey(n.Id)
	for range maxTxnAttempts {
		resp, err := c.cli.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read node %s: %w", n.Id, err)
		}
		next := proto.Clone(n).(*zakiv1.Node)
		next.State = zakiv1.NodeState_NODE_STATE_ACTIVE
		next.RegisteredAt = timestamppb.New(c.now())
		var modRev int64
		if len(resp.Kvs) == 1 {
			modRev = resp.Kvs[0].ModRevision
			old := &zakiv1.Node{}
			if err := proto.Unmarshal(resp.Kvs[0].Value, old); err != nil {
				return nil, fmt.Errorf("decode node %s: %w", n.Id, err)
			}
			next.State = nextNodeState(old.State)
		}
		txn, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
			Then(putProto(key, next), clientv3.OpDelete(downKey(n.Id))).Commit()
		if err != nil {
			return nil, fmt.Errorf("write node %s: %w", n.Id, err)
		}
		if txn.Succeeded {
			return next, nil
		}
	}
	return nil, fmt.Errorf("%w: register node %s", errConflict, n.Id)
}

// nextNodeState is the state of a node that registers while in state s.
func nextNodeState(s zakiv1.NodeState) zakiv1.NodeState {
	switch s {
	case zakiv1.NodeState_NODE_STATE_CORDONED, zakiv1.NodeState_NODE_STATE_DRAINING:
		return s
	default:
		return zakiv1.NodeState_NODE_STATE_ACTIVE
	}
}

// SetNodeState cordons (CORDONED: keeps its tenants, takes no new ones),
// drains (DRAINING: its tenants move off, a few at a time) or uncordons
// (ACTIVE) node id. Requests are expected to have passed
// validateSetNodeState.
func (c *Controller) SetNodeState(ctx context.Context, id string, want zakiv1.NodeState) (*zakiv1.Node, error) {
	key := nodeKey(id)
	for range maxTxnAttempts {
		n, modRev, err := c.readNode(ctx, id)
		if err != nil {
			return nil, err
		}
		if n.State == want {
			return n, nil
		}
		was := n.State
		n.State = want
		ok, err := c.putIfUnchanged(ctx, key, modRev, n)
		if err != nil {
			return nil, fmt.Errorf("write node %s: %w", id, err)
		}
		if ok {
			c.log.Info("node state set", "node", id, "state", stateName(want), "was", stateName(was))
			c.kickPending()
			c.kickDrains()
			return n, nil
		}
	}
	return nil, fmt.Errorf("%w: set state of node %s", errConflict, id)
}

// readNode reads node id's record and its mod revision.
func (c *Controller) readNode(ctx context.Context, id string) (*zakiv1.Node, int64, error) {
	resp, err := c.cli.Get(ctx, nodeKey(id))
	if err != nil {
		return nil, 0, fmt.Errorf("read node %s: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("%w: node %s", errNotFound, id)
	}
	n := &zakiv1.Node{}
	if err := proto.Unmarshal(resp.Kvs[0].Value, n); err != nil {
		return nil, 0, fmt.Errorf("decode node %s: %w", id, err)
	}
	return n, resp.Kvs[0].ModRevision, nil
}

// validateSetNodeState allows only the operator's states: active
// (uncordon), cordoned and draining.
func validateSetNodeState(r *zakiv1.SetNodeStateRequest) error {
	if r.NodeId == "" {
		return fmt.Errorf("%w: node_id is required", errInvalid)
	}
	switch r.State {
	case zakiv1.NodeState_NODE_STATE_ACTIVE, zakiv1.NodeState_NODE_STATE_CORDONED,
		zakiv1.NodeState_NODE_STATE_DRAINING:
		return nil
	default:
		return fmt.Errorf("%w: state %s cannot be set; only active (uncordon), cordoned or draining",
			errInvalid, stateName(r.State))
	}
}
