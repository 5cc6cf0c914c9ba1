package controlplane

import (
	"context"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// upsertNode records a registering node. Its state follows
//
//	(new), DOWN, UNKNOWN -> ACTIVE
//	ACTIVE, CORDONED, DRAINING -> unchanged
//
// because an operator's cordon or drain must survive an agent restart.
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
		ok, err := c.putIfUnchanged(ctx, key, modRev, next)
		if err != nil {
			return nil, fmt.Errorf("write node %s: %w", n.Id, err)
		}
		if ok {
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
