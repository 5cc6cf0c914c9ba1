package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/every"
)

// Drains. A DRAINING node's tenants move off, with their data (move.go), a
// few at a time, to the nodes the scheduler would pick for them. The
// leader's drain loop makes a pass every drainPeriod and whenever kicked (a
// node set DRAINING, a move done):
//
//	for each DRAINING node that is neither down nor unknown (its data must be readable):
//	  fewer than drainMovesPerNode moves in flight off it -> start moves for its
//	    other tenants, in id order, cause "drain"
//	  a tenant no node can take -> logged once, shown in its placement's reason
//	    (shownPlacement), tried again next pass
//
// Setting the node ACTIVE or CORDONED again stops new moves; those in flight
// finish. A drained node stays DRAINING, holding nothing, until the operator
// removes or uncordons it.

const (
	// drainMovesPerNode bounds the moves in flight off one draining node:
	// each copies a whole volume off that host, so more would only share its
	// disk and network, and park more tenants' updates at once.
	drainMovesPerNode = 2
	// drainPeriod is how often the drain loop looks without being kicked.
	drainPeriod = time.Second
)

// drains is the drain loop's state.
type drains struct {
	// kick asks the drain loop for a pass now.
	kick chan struct{}
	// stuck maps tenant id -> why it cannot leave its draining node, as last
	// logged, so each reason is logged once. Guarded by Controller.schedMu,
	// under which every pass runs.
	stuck map[string]string
}

func newDrains() *drains {
	return &drains{kick: make(chan struct{}, 1), stuck: map[string]string{}}
}

// kickDrains asks the drain loop for a pass without waiting for it.
func (c *Controller) kickDrains() {
	select {
	case c.drains.kick <- struct{}{}:
	default:
	}
}

// runDrains moves tenants off draining nodes, a pass every drainPeriod and
// whenever kicked, until ctx ends. Only the leader runs it: the moves it
// starts are fenced writes.
func (c *Controller) runDrains(ctx context.Context) {
	every.RunOrKick(ctx, drainPeriod, c.drains.kick, func(ctx context.Context) {
		if err := c.drainOnce(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("draining nodes", "error", err)
		}
	})
}

// drainOnce makes one pass over every draining node.
func (c *Controller) drainOnce(ctx context.Context) error {
	c.schedMu.Lock()
	defer c.schedMu.Unlock()
	v, err := c.loadView(ctx)
	if err != nil {
		return err
	}
	connected := c.sessions.connected()
	stuck := map[string]string{}
	for _, node := range sortedKeys(v.nodes) {
		if !c.drainable(v, node) {
			continue
		}
		if err := c.drainNode(ctx, v, connected, node, stuck); err != nil {
			return err
		}
	}
	// Tenants that moved, or whose node stopped draining, are forgotten, so
	// a later drain logs them afresh.
	c.drains.stuck = stuck
	return nil
}

// drainable reports whether node is DRAINING and its data can be read: a
// down or unknown node's drain waits until it is back.
func (c *Controller) drainable(v *view, node string) bool {
	if v.nodes[node].State != zakiv1.NodeState_NODE_STATE_DRAINING {
		return false
	}
	switch c.shownState(v, node) {
	case zakiv1.NodeState_NODE_STATE_DOWN, zakiv1.NodeState_NODE_STATE_UNKNOWN:
		return false
	}
	return true
}

// drainNode starts moves off node until drainMovesPerNode are in flight or
// none of its tenants can go, recording in stuck those that cannot.
func (c *Controller) drainNode(ctx context.Context, v *view, connected map[string]bool, node string,
	stuck map[string]string) error {
	moving, waiting := drainQueue(v, node)
	for _, id := range waiting {
		if moving >= drainMovesPerNode {
			return nil
		}
		to, why := c.drainTarget(v, connected, id, node)
		if to == "" {
			c.noteStuck(id, node, why, stuck)
			continue
		}
		_, err := c.startMove(ctx, v, connected, id, to, causeDrain)
		switch {
		case err == nil:
			moving++
		case errors.Is(err, errRetry):
			// Something changed under this pass: look again at once.
			c.kickDrains()
			return nil
		case errors.Is(err, errPrecondition), errors.Is(err, errNotFound):
			c.noteStuck(id, node, err.Error(), stuck)
		default:
			return err
		}
	}
	return nil
}

// drainQueue counts the moves in flight off node and lists, by id, its
// tenants that have not started moving.
func drainQueue(v *view, node string) (moving int, waiting []string) {
	for _, id := range sortedKeys(v.placements) {
		p := v.placements[id]
		if p.NodeId != node || p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING ||
			v.tenants[id] == nil {
			continue
		}
		if p.Move != nil {
			moving++
			continue
		}
		waiting = append(waiting, id)
	}
	return moving, waiting
}

// drainTarget is the node tenant id moves to off draining node from, or ""
// and why there is none: the scheduler's filter and score, without the
// draining node and without nodes whose agents serve no transfers.
func (c *Controller) drainTarget(v *view, connected map[string]bool, id, from string) (string, string) {
	if v.nodes[from].TransferAddress == "" {
		return "", "node " + from + " cannot hand over its data: " + noTransfers
	}
	ch := scheduleExcept(v, connected, v.tenants[id], c.fleet.policy, func(n string) string {
		switch {
		case n == from:
			return "draining"
		case v.nodes[n].TransferAddress == "":
			return noTransfers
		}
		return ""
	})
	if ch.failure != "" {
		return "", ch.detail
	}
	return ch.nodeID, ""
}

// noteStuck records that tenant id cannot leave draining node, logging it
// once per reason.
func (c *Controller) noteStuck(id, node, why string, stuck map[string]string) {
	stuck[id] = why
	if c.drains.stuck[id] != why {
		c.log.Warn("tenant cannot leave draining node; retrying", "tenant", id, "node", node,
			"reason", why)
	}
}

// drainWait is why tenant id, not moving yet, is still on draining node:
// no node can take it, or its turn has not come.
func (c *Controller) drainWait(v *view, id, node string) string {
	if _, why := c.drainTarget(v, c.sessions.connected(), id, node); why != "" {
		return fmt.Sprintf("node %s is draining, but this tenant cannot move now: %s; tried again "+
			"every %s", node, why, drainPeriod)
	}
	return fmt.Sprintf("node %s is draining; this tenant waits its turn, %d moves go at a time",
		node, drainMovesPerNode)
}
