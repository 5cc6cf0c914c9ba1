package controlplane

import (
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/protobuf/proto"
)

// assignmentsFor is every container node must run, by tenant id: each
// placement on it that is not PENDING. Placement state is deliberately not
// part of an assignment, so status reports never re-send one.
//
// During a move (move.go) the source keeps the tenant, stopped, with the
// target named as the only node that may pull its volume; the target gets it
// only once the source has stopped (phase COPYING), told to restore the
// volume from the source first. Both at the move's generation. After the
// flip, the former source is told to discard what is left (leftovers.go).
func assignmentsFor(v *view, nodeID string) map[string]*zakiv1.Assignment {
	chats := v.chatIDs()
	out := map[string]*zakiv1.Assignment{}
	for id, p := range v.placements {
		t := v.tenants[id]
		if p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING || t == nil {
			continue
		}
		var a *zakiv1.Assignment
		switch {
		case p.NodeId == nodeID:
			a = assignment(v, id, t, p, p.HostPort, chats[id])
			if p.Move != nil {
				a.Stopped, a.MoveToNodeId = true, p.Move.ToNodeId
			}
		case movingInto(v, p, nodeID):
			a = assignment(v, id, t, p, p.Move.ToHostPort, chats[id])
			a.RestoreFrom = &zakiv1.MoveSource{NodeId: p.NodeId,
				TransferAddress: v.nodes[p.NodeId].TransferAddress}
		default:
			continue
		}
		out[id] = a
	}
	addDiscards(v, nodeID, out)
	return out
}

// movingInto reports whether placement p is a move into nodeID that has
// reached the copy, from a source still known.
func movingInto(v *view, p *zakiv1.Placement, nodeID string) bool {
	return p.Move != nil && p.Move.ToNodeId == nodeID &&
		p.Move.Phase == zakiv1.MovePhase_MOVE_PHASE_COPYING && v.nodes[p.NodeId] != nil
}

// assignment is tenant id's (t's) container at placement p's generation on port.
func assignment(v *view, id string, t *zakiv1.Tenant, p *zakiv1.Placement, port uint32,
	chats []int64) *zakiv1.Assignment {
	a := &zakiv1.Assignment{TenantId: id, Generation: p.Generation, Profile: t.Profile,
		HostPort: port, Kind: t.Kind, OwnerUserId: t.OwnerUserId, ChatIds: chats,
		Tier: t.Tier, BotId: v.botID}
	if s := v.secrets[id]; s != nil {
		a.Secrets = proto.Clone(s).(*zakiv1.TenantSecrets)
	}
	return a
}

func desiredSet(rev int64, as map[string]*zakiv1.Assignment) *zakiv1.SessionResponse {
	d := &zakiv1.DesiredSet{Revision: rev}
	for _, id := range sortedKeys(as) {
		d.Assignments = append(d.Assignments, as[id])
	}
	return &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Desired{Desired: d}}
}

// sendAssignmentChanges sends an upsert for every assignment of node that
// differs from last and a remove for every one that went away, and returns
// what the agent now has.
func sendAssignmentChanges(stream SessionStream, v *view, nodeID string,
	last map[string]*zakiv1.Assignment) (map[string]*zakiv1.Assignment, error) {
	now := assignmentsFor(v, nodeID)
	for _, id := range sortedKeys(now) {
		if proto.Equal(now[id], last[id]) {
			continue
		}
		if err := stream.Send(change(v.rev, &zakiv1.AssignmentChange{
			Change: &zakiv1.AssignmentChange_Upsert{Upsert: now[id]}})); err != nil {
			return last, err
		}
	}
	for _, id := range sortedKeys(last) {
		if _, ok := now[id]; ok {
			continue
		}
		if err := stream.Send(change(v.rev, &zakiv1.AssignmentChange{
			Change: &zakiv1.AssignmentChange_RemoveTenantId{RemoveTenantId: id}})); err != nil {
			return last, err
		}
	}
	return now, nil
}

func change(rev int64, c *zakiv1.AssignmentChange) *zakiv1.SessionResponse {
	c.Revision = rev
	return &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Change{Change: c}}
}
