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
// Only the leader runs the monitor, and its writes are fenced. An agent may
// hold its session with any replica, so what was heard comes from the alive
// keys (liveness.go), not from this replica's sessions. "Since this control
// plane started" above means since the later of this replica's start and
// the current leader's taking over, so a leader change starts a new grace.

// liveness is what this control plane knows of one node.
type liveness struct {
	// lastHeard is when the node last spoke to any replica; zero when it
	// has not since its grace began (this control plane's start, or since).
	lastHeard time.Time
	// downSince is when the node was marked DOWN; zero when it is not.
	downSince time.Time
	// since, when later than the control plane's start, is when the grace
	// of a node not heard from starts instead: when the current leader took
	// over, or when the node's replica vanished.
	since time.Time
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
	case now.Sub(later(f.startedAt, l.since)) > f.unknownGrace:
		return zakiv1.NodeState_NODE_STATE_DOWN, markDown
	default:
		return zakiv1.NodeState_NODE_STATE_UNKNOWN, keepState
	}
}

// runHeartbeats checks every node's liveness twice a heartbeat period until
// ctx ends. Only the leader runs it.
func (c *Controller) runHeartbeats(ctx context.Context) {
	every.Run(ctx, max(c.fleet.period/2, time.Millisecond), func(ctx context.Context) {
		if err := c.checkNodes(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("checking node heartbeats", "error", err)
		}
	})
}

// checkNodes judges every node once and writes what changed. Until the
// alive keys have been listed nothing is judged: every node would look
// silent.
func (c *Controller) checkNodes(ctx context.Context) error {
	if !c.alive.isSynced() {
		return nil
	}
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
// record's revision (a node that registered meanwhile is left alone) and
// fenced (a deposed leader writes nothing).
func (c *Controller) checkNode(ctx context.Context, n *zakiv1.Node, modRev int64, downSince time.Time) error {
	now := c.now()
	l := c.nodeLiveness(n.Id, now)
	l.downSince = downSince
	_, v := judge(n.State, l, now, c.fleet)
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
	resp, err := c.cli.Txn(ctx).If(c.fenced(guards...)...).Then(op).Commit()
	if err != nil {
		return fmt.Errorf("mark node %s: %w", n.Id, err)
	}
	switch {
	case !resp.Succeeded:
	case v == markDown:
		c.log.Warn("node down", "node", n.Id, "last_heard", l.lastHeard, "since", now)
	case v == clearDown:
		c.log.Info("node back", "node", n.Id)
	}
	return nil
}

// shownState is node id's state as ListNodes and the scheduler see it.
func (c *Controller) shownState(v *view, id string) zakiv1.NodeState {
	now := c.now()
	l := c.nodeLiveness(id, now)
	l.downSince = v.down[id]
	st, _ := judge(v.nodes[id].State, l, now, c.fleet)
	return st
}
