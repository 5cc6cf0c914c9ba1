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

// Moves. A tenant moves with its data, in phases recorded on its placement
// (Placement.move). Each arrow is one etcd transaction guarded by the
// placement's mod revision:
//
//	on S at port p, generation g (any state but PENDING)
//	  | MoveTenant or a drain (leader only, fenced)
//	  v
//	MOVING on S at p, generation g+1, move {T, port q claimed on T, STOPPING}
//	  S: stopped=true, move_to_node_id=T      T: nothing yet
//	  | S reports STOPPED at g+1
//	  v
//	MOVING, phase COPYING
//	  S: unchanged                            T: port q, restore_from={S, S's transfer address}
//	  | T reports RUNNING at g+1
//	  v
//	RUNNING on T at q, generation g+1, move cleared; p released (cooling down)
//	  S: assignment removed                   T: port q
//
// The generation is bumped once, at the start, so both agents act on g+1 and
// the container T started before the flip already is the placement's: nothing
// restarts. T is told to start only after S said nothing runs, so at no
// instant do two containers of the tenant run. A FAILED report from either
// side is kept in move.reason and changes no phase: the agents retry (an
// interrupted copy starts over). Until the flip the tenant counts on both
// nodes (usageByNode). Its route stays on S in state MOVING, so routers park
// its updates (routes.go).
//
// TODO(#3): a move cannot be cancelled yet; one whose target is lost waits
// for it.

// Why a move was made, as Move.cause records it.
const (
	causeOperator = "operator"
	causeDrain    = "drain"
)

// MoveTenant starts moving tenant id, with its data, to node to, and returns
// its placement at once; the placement's move shows how far it has come.
// Requests are expected to have passed validateMoveTenant.
func (c *Controller) MoveTenant(ctx context.Context, id, to string) (*zakiv1.Placement, error) {
	// Under the scheduler's lock: the target's room is judged on the same
	// picture the scheduler uses, and nothing is placed there meanwhile.
	c.schedMu.Lock()
	defer c.schedMu.Unlock()
	for range maxTxnAttempts {
		// Said plainly here, since a fenced write of a replica that does
		// not lead would only fail like a lost race.
		if err := c.requireLeader(); err != nil {
			return nil, err
		}
		v, err := c.loadView(ctx)
		if err != nil {
			return nil, err
		}
		p, err := c.startMove(ctx, v, c.sessions.connected(), id, to, causeOperator)
		if !errors.Is(err, errRetry) {
			return p, err
		}
	}
	return nil, fmt.Errorf("%w: move tenant %s", errConflict, id)
}

// startMove checks that tenant id may move to node to (checkMove) and starts
// the move in one transaction: the placement, guarded by its revision and
// by the target's record being as v saw it, and a port on the target claimed
// as scheduling claims one. On success v is updated to match, so a caller
// starting several moves judges each on what the earlier ones took. Lost
// races return errRetry. The caller holds schedMu.
func (c *Controller) startMove(ctx context.Context, v *view, connected map[string]bool,
	id, to, cause string) (*zakiv1.Placement, error) {
	if err := c.checkMove(v, connected, id, to); err != nil {
		return nil, err
	}
	old := v.placements[id]
	port, _ := freePort(v.nodes[to], v.ports[to], v.cooling[to]) // checkMove found one
	now := timestamppb.New(c.now())
	next := proto.Clone(old).(*zakiv1.Placement)
	next.Generation = old.Generation + 1
	next.State = zakiv1.PlacementState_PLACEMENT_STATE_MOVING
	next.Reason = ""
	next.UpdatedAt = now
	next.Move = &zakiv1.Move{ToNodeId: to, ToHostPort: port, StartedAt: now, Cause: cause,
		Phase: zakiv1.MovePhase_MOVE_PHASE_STOPPING}

	claimCmps, claimOps := claimPort(to, port, id)
	cmps := c.fenced(append([]clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(placementKey(id)), "=", v.placementRevs[id]),
		present(nodeKey(to)),
		clientv3.Compare(clientv3.ModRevision(nodeKey(to)), "<", v.rev+1),
	}, claimCmps...)...)
	resp, err := c.cli.Txn(ctx).If(cmps...).
		Then(append([]clientv3.Op{putProto(placementKey(id), next),
			// A leftover of this tenant on the target is about to be
			// replaced by the restore, never discarded under it.
			clientv3.OpDelete(leftoverKey(to, id))}, claimOps...)...).Commit()
	if err != nil {
		return nil, fmt.Errorf("start moving tenant %s to node %s: %w", id, to, err)
	}
	if !resp.Succeeded {
		return nil, errRetry
	}
	v.placements[id], v.placementRevs[id] = next, resp.Header.Revision
	if v.ports[to] == nil {
		v.ports[to] = map[uint32]string{}
	}
	v.ports[to][port] = id
	c.log.Info("move started", "tenant", id, "from", old.NodeId, "to", to,
		"generation", next.Generation, "cause", cause)
	return next, nil
}

// checkMove says why tenant id may not move to node to now, or nil. The
// target must pass the scheduler's own filter (unfit) and both agents must
// serve transfers; the source must be readable, neither down nor unknown.
func (c *Controller) checkMove(v *view, connected map[string]bool, id, to string) error {
	t, p := v.tenants[id], v.placements[id]
	if t == nil || p == nil {
		return fmt.Errorf("%w: tenant %s", errNotFound, id)
	}
	if err := checkMovable(v, p); err != nil {
		return err
	}
	if p.NodeId == to {
		return fmt.Errorf("%w: tenant %s is on node %s already", errInvalid, id, to)
	}
	if err := c.checkSource(v, p); err != nil {
		return err
	}
	n := v.nodes[to]
	if n == nil {
		return fmt.Errorf("%w: node %s (see zaki ctl nodes)", errNotFound, to)
	}
	d, _, err := v.demandOf(t)
	if err != nil {
		return fmt.Errorf("%w: tenant %s: %v", errPrecondition, id, err)
	}
	if why := unfit(v, to, connected[to], usageByNode(v)[to], d); why != "" {
		return fmt.Errorf("%w: node %s cannot take tenant %s: %s", errPrecondition, to, id, why)
	}
	if n.TransferAddress == "" {
		return fmt.Errorf("%w: node %s cannot take tenant %s: %s", errPrecondition, to, id, noTransfers)
	}
	return nil
}

// noTransfers is why a node without a transfer address takes part in no move.
const noTransfers = "its agent serves no volume transfers (upgrade it)"

// checkMovable says why placement p cannot start a move at all, or nil.
func checkMovable(v *view, p *zakiv1.Placement) error {
	id := p.TenantId
	switch {
	case p.Move != nil:
		return fmt.Errorf("%w: tenant %s is already moving to node %s (%s); watch it with "+
			"zaki ctl tenants", errPrecondition, id, p.Move.ToNodeId, phaseName(p.Move.Phase))
	case p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING:
		return fmt.Errorf("%w: tenant %s is pending (%s): it has no node and no data to move yet",
			errPrecondition, id, p.Reason)
	case p.NodeId == "" || v.nodes[p.NodeId] == nil:
		return fmt.Errorf("%w: tenant %s has no registered node (%s); its data cannot be read",
			errPrecondition, id, p.Reason)
	}
	return nil
}

// checkSource says why the data of placement p cannot be read from its node
// now, or nil.
func (c *Controller) checkSource(v *view, p *zakiv1.Placement) error {
	switch st := c.shownState(v, p.NodeId); st {
	case zakiv1.NodeState_NODE_STATE_DOWN, zakiv1.NodeState_NODE_STATE_UNKNOWN:
		return fmt.Errorf("%w: node %s of tenant %s is %s: its data cannot be read until it is back",
			errPrecondition, p.NodeId, p.TenantId, stateName(st))
	}
	if v.nodes[p.NodeId].TransferAddress == "" {
		return fmt.Errorf("%w: node %s of tenant %s cannot hand over its data: %s",
			errPrecondition, p.NodeId, p.TenantId, noTransfers)
	}
	return nil
}

// validateMoveTenant checks a MoveTenant request.
func validateMoveTenant(r *zakiv1.MoveTenantRequest) error {
	switch {
	case r.TenantId == "":
		return fmt.Errorf("%w: tenant_id is required", errInvalid)
	case r.ToNodeId == "":
		return fmt.Errorf("%w: to_node_id is required", errInvalid)
	}
	return nil
}

// phaseName is a move phase in lower case: "stopping", "copying".
func phaseName(p zakiv1.MovePhase) string {
	return strings.ToLower(strings.TrimPrefix(p.String(), "MOVE_PHASE_"))
}
