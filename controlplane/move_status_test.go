package controlplane

import (
	"testing"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestAfterStatus(t *testing.T) {
	const (
		starting = zakiv1.PlacementState_PLACEMENT_STATE_STARTING
		running  = zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
		failed   = zakiv1.PlacementState_PLACEMENT_STATE_FAILED
		stopped  = zakiv1.PlacementState_PLACEMENT_STATE_STOPPED
		moving   = zakiv1.PlacementState_PLACEMENT_STATE_MOVING
		stopping = zakiv1.MovePhase_MOVE_PHASE_STOPPING
		copying  = zakiv1.MovePhase_MOVE_PHASE_COPYING
	)
	now := timestamppb.Now()
	placed := &zakiv1.Placement{TenantId: "1", NodeId: "a", HostPort: 20000, Generation: 3, State: running}
	inMove := func(phase zakiv1.MovePhase, reason string) *zakiv1.Placement {
		return &zakiv1.Placement{TenantId: "1", NodeId: "a", HostPort: 20000, Generation: 4, State: moving,
			Move: &zakiv1.Move{ToNodeId: "b", ToHostPort: 20007, Phase: phase, Reason: reason, Cause: "operator"}}
	}
	cases := []struct {
		name   string
		p      *zakiv1.Placement
		node   string
		gen    uint64
		state  zakiv1.PlacementState
		reason string
		effect statusEffect
		check  func(t *testing.T, next *zakiv1.Placement)
	}{
		{name: "placed: the agent's state is recorded", p: placed, node: "a", gen: 3, state: failed, reason: "oom",
			effect: writeStatus, check: func(t *testing.T, n *zakiv1.Placement) {
				if n.State != failed || n.Reason != "oom" {
					t.Fatalf("next %v", n)
				}
			}},
		{name: "placed: the same state again", p: placed, node: "a", gen: 3, state: running, effect: keepStatus},
		{name: "placed: another generation", p: placed, node: "a", gen: 2, state: failed, effect: ignoreStatus},
		{name: "placed: another node", p: placed, node: "b", gen: 3, state: running, effect: ignoreStatus},
		{name: "placed: STOPPED is no placement's state", p: placed, node: "a", gen: 3, state: stopped,
			effect: ignoreStatus},
		{name: "source stopped: the copy starts", p: inMove(stopping, "node a: stuck"), node: "a", gen: 4,
			state: stopped, effect: writeStatus, check: func(t *testing.T, n *zakiv1.Placement) {
				if n.Move.Phase != copying || n.Move.Reason != "" || n.State != moving || n.NodeId != "a" {
					t.Fatalf("next %v", n)
				}
			}},
		{name: "source stopped again while copying", p: inMove(copying, ""), node: "a", gen: 4, state: stopped,
			effect: keepStatus},
		{name: "source stopped at the old generation", p: inMove(stopping, ""), node: "a", gen: 3,
			state: stopped, effect: ignoreStatus},
		{name: "source failed: the reason is kept, the phase too", p: inMove(stopping, ""), node: "a", gen: 4,
			state: failed, reason: "docker stop timed out", effect: writeStatus,
			check: func(t *testing.T, n *zakiv1.Placement) {
				if n.Move.Phase != stopping || n.Move.Reason != "node a: docker stop timed out" {
					t.Fatalf("next %v", n)
				}
			}},
		{name: "source running at the move's generation", p: inMove(stopping, ""), node: "a", gen: 4,
			state: running, effect: ignoreStatus},
		{name: "target running before the copy", p: inMove(stopping, ""), node: "b", gen: 4, state: running,
			effect: ignoreStatus},
		{name: "target starting", p: inMove(copying, ""), node: "b", gen: 4, state: starting, effect: keepStatus},
		{name: "target failed", p: inMove(copying, ""), node: "b", gen: 4, state: failed, reason: "checksum",
			effect: writeStatus, check: func(t *testing.T, n *zakiv1.Placement) {
				if n.Move.Phase != copying || n.Move.Reason != "node b: checksum" {
					t.Fatalf("next %v", n)
				}
			}},
		{name: "target failed the same way again", p: inMove(copying, "node b: checksum"), node: "b", gen: 4,
			state: failed, reason: "checksum", effect: keepStatus},
		{name: "target running: the flip", p: inMove(copying, "node b: checksum"), node: "b", gen: 4,
			state: running, effect: flipMove, check: func(t *testing.T, n *zakiv1.Placement) {
				want := &zakiv1.Placement{TenantId: "1", NodeId: "b", HostPort: 20007, Generation: 4,
					State: running, UpdatedAt: now}
				if !proto.Equal(n, want) {
					t.Fatalf("next %v, want %v", n, want)
				}
			}},
		{name: "target running at another generation", p: inMove(copying, ""), node: "b", gen: 5,
			state: running, effect: ignoreStatus},
		{name: "a third node", p: inMove(copying, ""), node: "c", gen: 4, state: running, effect: ignoreStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(tc.p)
			next, effect := afterStatus(tc.p, tc.node, &zakiv1.ContainerStatus{TenantId: "1",
				Generation: tc.gen, State: tc.state, Reason: tc.reason}, now)
			if effect != tc.effect {
				t.Fatalf("effect %d, want %d (next %v)", effect, tc.effect, next)
			}
			if !proto.Equal(before, tc.p) {
				t.Fatal("afterStatus changed its input")
			}
			if tc.check != nil {
				tc.check(t, next)
			}
		})
	}
}
