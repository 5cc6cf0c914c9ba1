package controlplane

import (
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// statusEffect is what one agent report does to a placement.
type statusEffect int

const (
	// ignoreStatus: the report is about another generation, from a node
	// that does not hold the placement, or not one the placement waits for.
	ignoreStatus statusEffect = iota
	// keepStatus: the report is current and says nothing new.
	keepStatus
	// writeStatus: the placement becomes the one returned.
	writeStatus
	// flipMove: the move is done: the placement becomes the one returned,
	// on the target, and the source's port is released.
	flipMove
)

// afterStatus is placement p after nodeID reported st at now, and what to
// write. It is pure.
func afterStatus(p *zakiv1.Placement, nodeID string, st *zakiv1.ContainerStatus,
	now *timestamppb.Timestamp) (*zakiv1.Placement, statusEffect) {
	if p.Generation != st.Generation {
		return nil, ignoreStatus
	}
	if p.Move != nil {
		return afterMoveStatus(p, nodeID, st, now)
	}
	// STOPPED is only ever a move's source's word, never a placement's state.
	if p.NodeId != nodeID || st.State == zakiv1.PlacementState_PLACEMENT_STATE_STOPPED {
		return nil, ignoreStatus
	}
	if p.State == st.State && p.Reason == st.Reason {
		return nil, keepStatus
	}
	next := proto.Clone(p).(*zakiv1.Placement)
	next.State, next.Reason, next.UpdatedAt = st.State, st.Reason, now
	return next, writeStatus
}

// afterMoveStatus is afterStatus for a moving placement (see move.go): the
// source's STOPPED starts the copy, the target's RUNNING flips the
// placement, a FAILED from either is kept as the move's reason. Anything
// else changes nothing.
func afterMoveStatus(p *zakiv1.Placement, nodeID string, st *zakiv1.ContainerStatus,
	now *timestamppb.Timestamp) (*zakiv1.Placement, statusEffect) {
	m := p.Move
	switch {
	case nodeID == p.NodeId:
		switch st.State {
		case zakiv1.PlacementState_PLACEMENT_STATE_STOPPED:
			if m.Phase != zakiv1.MovePhase_MOVE_PHASE_STOPPING {
				return nil, keepStatus
			}
			next := proto.Clone(p).(*zakiv1.Placement)
			next.Move.Phase, next.Move.Reason, next.UpdatedAt = zakiv1.MovePhase_MOVE_PHASE_COPYING, "", now
			return next, writeStatus
		case zakiv1.PlacementState_PLACEMENT_STATE_FAILED:
			return withMoveReason(p, nodeID, st.Reason, now)
		}
	case nodeID == m.ToNodeId && m.Phase == zakiv1.MovePhase_MOVE_PHASE_COPYING:
		switch st.State {
		case zakiv1.PlacementState_PLACEMENT_STATE_RUNNING:
			return &zakiv1.Placement{TenantId: p.TenantId, NodeId: m.ToNodeId, HostPort: m.ToHostPort,
				Generation: p.Generation, State: st.State, Reason: st.Reason, UpdatedAt: now}, flipMove
		case zakiv1.PlacementState_PLACEMENT_STATE_FAILED:
			return withMoveReason(p, nodeID, st.Reason, now)
		case zakiv1.PlacementState_PLACEMENT_STATE_STARTING:
			return nil, keepStatus
		}
	}
	return nil, ignoreStatus
}

// withMoveReason is p with a failure reported by node kept as its move's
// reason, the phase unchanged.
func withMoveReason(p *zakiv1.Placement, node, reason string, now *timestamppb.Timestamp,
) (*zakiv1.Placement, statusEffect) {
	if reason == "" {
		reason = "failed, no reason given"
	}
	reason = "node " + node + ": " + reason
	if p.Move.Reason == reason {
		return nil, keepStatus
	}
	next := proto.Clone(p).(*zakiv1.Placement)
	next.Move.Reason, next.UpdatedAt = reason, now
	return next, writeStatus
}

// noteMoveStatus logs what a written report did to a move, and after a
// flip asks the drain and pending loops to look again: the source has room.
func (c *Controller) noteMoveStatus(old, next *zakiv1.Placement, effect statusEffect) {
	m := old.Move
	switch {
	case m == nil:
	case effect == flipMove:
		took := next.UpdatedAt.AsTime().Sub(m.StartedAt.AsTime()).Round(time.Millisecond)
		c.log.Info("move done", "tenant", old.TenantId, "from", old.NodeId, "to", next.NodeId,
			"generation", next.Generation, "took", took, "cause", m.Cause)
		c.kickDrains()
		c.kickPending()
	case next.Move.Phase != m.Phase:
		c.log.Info("move copying", "tenant", old.TenantId, "from", old.NodeId, "to", m.ToNodeId,
			"generation", old.Generation)
	case next.Move.Reason != m.Reason:
		c.log.Warn("move step failed; the agents retry", "tenant", old.TenantId, "from", old.NodeId,
			"to", m.ToNodeId, "reason", next.Move.Reason)
	}
}
