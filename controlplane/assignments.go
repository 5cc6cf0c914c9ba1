package controlplane

import (
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/protobuf/proto"
)

// assignmentsFor is every container node must run, by tenant id: each
// placement on it that is not PENDING. Placement state is deliberately not
// part of an assignment, so status reports never re-send one.
func assignmentsFor(v *view, nodeID string) map[string]*zakiv1.Assignment {
	chats := v.chatIDs()
	out := map[string]*zakiv1.Assignment{}
	for id, p := range v.placements {
		t := v.tenants[id]
		if p.NodeId != nodeID || p.State == zakiv1.PlacementState_PLACEMENT_STATE_PENDING || t == nil {
			continue
		}
		a := &zakiv1.Assignment{TenantId: id, Generation: p.Generation, Profile: t.Profile,
			HostPort: p.HostPort, Kind: t.Kind, OwnerUserId: t.OwnerUserId, ChatIds: chats[id],
			Tier: t.Tier, BotId: v.botID}
		if s := v.secrets[id]; s != nil {
			a.Secrets = proto.Clone(s).(*zakiv1.TenantSecrets)
		}
		out[id] = a
	}
	return out
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
