package controlplane

import (
	"context"
	"fmt"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/every"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
)

// Node liveness. The stored node state is the operator's intent (ACTIVE,
// CORDONED, DRAINING); liveness is layered on top:
//
//	heard within the down timeout          -> the stored state
//	silent past the down timeout           -> DOWN (down/<node> written, with the time)
//	not heard since this control plane
//	started, within the extended grace     -> UNKNOWN (nothing written)
//	... past the grace                     -> DOWN
//	registers again                        -> down/<node> deleted, the stored state
//
// Neither DOWN nor UNKNOWN moves anything: placements keep their node, the
// tenants wait and their updates are parked. Only the down marker is ever
// written here, in one transaction guarded by the node record's revision, so
// a control plane that restarted, or lost a race with a registration, can at
// worst show a stale state, never move a container.
//
// TODO(#3): with several control-plane replicas only the leader may run the
// monitor, and a leader change starts a new grace.

// liveness is what this control plane knows of one node.
type liveness struct {
	// lastHeard is when the node last spoke to this control plane; zero
	// when not since it started.
	lastHeard time.Time
	// downSince is when the node was marked DOWN; zero when it is not.
	downSince time.Time
}

// verdict is what the monitor does about one node.
type verdict int

const (
	keepState verdict = iota
	markDown
	clearDown
)

// judge is the node's state as shown (stored is its record's state) and what
// to write about it at now. It is pure.
func judge(stored zakiv1.NodeState, l liveness, now time.Time, f *fleet) (zakiv1.NodeState, verdict) {
	heard := !l.lastHeard.IsZero()
	recent := heard && now.Sub(l.lastHeard) <= f.downAfter
	switch {
	case !l.downSince.IsZero() && recent:
		return stored, clearDown // it spoke after being marked: it is back
	case !l.downSince.IsZero():
		return zakiv1.NodeState_NODE_STATE_DOWN, keepState
	case recent:
		return stored, keepState
	case heard:
		return zakiv1.NodeState_NODE_STATE_DOWN, markDown
	case now.Sub(f.startedAt) > f.unknownGrace:
		return zakiv1.NodeState_NODE_STATE_DOWN, markDown
	default:
		return zakiv1.NodeState_NODE_STATE_UNKNOWN, keepState
	}
}

// runHeartbeats checks every node's liveness twice a heartbeat period until
// ctx ends.
func (c *Controller) runHeartbeats(ctx context.Context) {
	every.Run(ctx, max(c.fleet.period/2, time.Millisecond), func(ctx context.Context) {
		if err := c.checkNodes(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("checking node heartbeats", "error", err)
		}
	})
}

// checkNodes judges every node once and writes what changed.
func (c *Controller) checkNodes(ctx context.Context) error {
	resp, err := c.cli.Txn(ctx).Then(clientv3.OpGet(nodesPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(downPrefix, clientv3.WithPrefix())).Commit()
	if err != nil {
		return fmt.Errorf("read nodes: %w", err)
	}
	downs := newView()
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		if _, err := downs.putFleet(string(kv.Key), kv.Value); err != nil {
			return err
		}
	}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		n := &zakiv1.Node{}
		if err := proto.Unmarshal(kv.Value, n); err != nil {
			return fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		if err := c.checkNode(ctx, n, kv.ModRevision, downs.down[n.Id]); err != nil {
			return err
		}
	}
	return nil
}

// checkNode judges one node and writes the verdict, guarded by the node
// record's revision: a node that registered meanwhile is left alone.
func (c *Controller) checkNode(ctx context.Context, n *zakiv1.Node, modRev int64, downSince time.Time) error {
	_, heard := c.sessions.status(n.Id)
	now := c.now()
	_, v := judge(n.State, liveness{lastHeard: heard, downSince: downSince}, now, c.fleet)
	guards := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(nodeKey(n.Id)), "=", modRev)}
	var op clientv3.Op
	switch v {
	case keepState:
		return nil
	case markDown:
		guards = append(guards, absent(downKey(n.Id)))
		op = clientv3.OpPut(downKey(n.Id), now.UTC().Format(time.RFC3339Nano))
	case clearDown:
		op = clientv3.OpDelete(downKey(n.Id))
	}
	resp, err := c.cli.Txn(ctx).If(guards...).Then(op).Commit()
	if err != nil {
		return fmt.Errorf("mark node %s: %w", n.Id, err)
	}
	switch {
	case !resp.Succeeded:
	case v == markDown:
		c.log.Warn("node down", "node", n.Id, "last_heard", heard, "since", now)
	case v == clearDown:
		c.log.Info("node back", "node", n.Id)
	}
	return nil
}

// shownState is node id's state as ListNodes and the scheduler see it.
func (c *Controller) shownState(v *view, id string) zakiv1.NodeState {
	n := v.nodes[id]
	_, heard := c.sessions.status(id)
	st, _ := judge(n.State, liveness{lastHeard: heard, downSince: v.down[id]}, c.now(), c.fleet)
	return st
}
