package main

import (
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

func TestDescribeMove(t *testing.T) {
	moving := func(phase zakiv1.MovePhase, reason string) *zakiv1.Placement {
		return &zakiv1.Placement{TenantId: "42", NodeId: "node-a", Generation: 7,
			State: zakiv1.PlacementState_PLACEMENT_STATE_MOVING,
			Move:  &zakiv1.Move{ToNodeId: "node-b", Phase: phase, Reason: reason}}
	}
	cases := []struct {
		name  string
		p     *zakiv1.Placement
		line  string
		done  bool
		fails bool
	}{
		{"stopping", moving(zakiv1.MovePhase_MOVE_PHASE_STOPPING, ""), "tenant 42: stopping on node-a", false, false},
		{"copying", moving(zakiv1.MovePhase_MOVE_PHASE_COPYING, ""), "tenant 42: copying to node-b", false, false},
		{"copying after a failure", moving(zakiv1.MovePhase_MOVE_PHASE_COPYING, "node node-b: checksum mismatch"),
			"tenant 42: copying to node-b (failed: node node-b: checksum mismatch; retrying)", false, false},
		{"waiting for a down source", func() *zakiv1.Placement {
			p := moving(zakiv1.MovePhase_MOVE_PHASE_STOPPING, "")
			p.Reason = "node node-a is down; the tenant waits for it"
			return p
		}(), "tenant 42: stopping on node-a (waiting: node node-a is down; the tenant waits for it)", false, false},
		{"done", &zakiv1.Placement{NodeId: "node-b", Generation: 7, State: zakiv1.PlacementState_PLACEMENT_STATE_RUNNING},
			"tenant 42: running on node-b (generation 7) after 2.3s", true, false},
		{"ended elsewhere", &zakiv1.Placement{State: zakiv1.PlacementState_PLACEMENT_STATE_FAILED},
			"tenant 42: failed on -", false, true},
		{"gone", nil, "tenant 42: gone", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line, done, err := describeMove("42", "node-b", tc.p, 2345*time.Millisecond)
			if line != tc.line || done != tc.done || (err != nil) != tc.fails {
				t.Fatalf("got %q done=%v err=%v, want %q done=%v fails=%v", line, done, err, tc.line, tc.done, tc.fails)
			}
		})
	}
}

func TestDrainProgress(t *testing.T) {
	node := func(st zakiv1.NodeState) []*zakiv1.NodeStatus {
		return []*zakiv1.NodeStatus{{Node: &zakiv1.Node{Id: "node-a", State: st}}}
	}
	tenant := func(id, on string, move *zakiv1.Move, reason string) *zakiv1.TenantStatus {
		return &zakiv1.TenantStatus{Tenant: &zakiv1.Tenant{Id: id},
			Placement: &zakiv1.Placement{NodeId: on, Move: move, Reason: reason}}
	}
	copying := &zakiv1.Move{ToNodeId: "node-b", Phase: zakiv1.MovePhase_MOVE_PHASE_COPYING}
	draining := node(zakiv1.NodeState_NODE_STATE_DRAINING)
	seen := map[string]bool{}

	first := progressOfDrain("node-a", draining, []*zakiv1.TenantStatus{
		tenant("1", "node-a", copying, ""), tenant("2", "node-a", nil, "waits its turn"),
		tenant("3", "node-a", nil, ""), tenant("9", "node-b", nil, ""),
	}, seen)
	if got := first.line("node-a", time.Second); got != "node-a: 0 of 3 tenants moved, 1 moving, 2 waiting" {
		t.Fatalf("first line %q", got)
	}
	if first.done() || first.err("node-a") != nil {
		t.Fatalf("first look: done %v, err %v", first.done(), first.err("node-a"))
	}
	if want := "1 moving to node-b (copying); 2 waiting (waits its turn); 3 waiting (-)"; strings.Join(first.left, "; ") != want {
		t.Fatalf("left %q, want %q", strings.Join(first.left, "; "), want)
	}

	later := progressOfDrain("node-a", node(zakiv1.NodeState_NODE_STATE_DOWN), []*zakiv1.TenantStatus{
		tenant("1", "node-b", nil, ""), tenant("3", "node-a", copying, ""),
	}, seen)
	if got := later.line("node-a", time.Second); got != "node-a: 2 of 3 tenants moved, 1 moving, 0 waiting "+
		"(the node is down: the drain waits for it)" {
		t.Fatalf("later line %q", got)
	}

	done := progressOfDrain("node-a", draining, nil, seen)
	if got := done.line("node-a", 61500*time.Millisecond); !done.done() || got != "node-a: drained: 3 of 3 tenants moved after 1m1.5s" {
		t.Fatalf("done %v, line %q", done.done(), got)
	}

	stopped := progressOfDrain("node-a", node(zakiv1.NodeState_NODE_STATE_ACTIVE),
		[]*zakiv1.TenantStatus{tenant("3", "node-a", nil, "")}, seen)
	if err := stopped.err("node-a"); err == nil || !strings.Contains(err.Error(), "no longer draining (now active)") {
		t.Fatalf("an uncordoned node: %v", err)
	}
	if err := progressOfDrain("node-a", nil, nil, seen).err("node-a"); err == nil {
		t.Fatal("a node no longer listed is no error")
	}
}

func TestTenantAndNodeWords(t *testing.T) {
	p := &zakiv1.Placement{State: zakiv1.PlacementState_PLACEMENT_STATE_MOVING,
		Move: &zakiv1.Move{ToNodeId: "node-b", Phase: zakiv1.MovePhase_MOVE_PHASE_COPYING, Reason: "node node-b: disk full"}}
	if got := placementStateWord(p); got != "moving -> node-b (copying)" {
		t.Fatalf("state %q", got)
	}
	if got := placementReason(p); got != "move failed, retrying: node node-b: disk full" {
		t.Fatalf("reason %q", got)
	}
	drained := &zakiv1.NodeStatus{Node: &zakiv1.Node{State: zakiv1.NodeState_NODE_STATE_DRAINING}}
	if got := nodeStateWord(drained); got != "drained" {
		t.Fatalf("an empty draining node shows %q", got)
	}
	drained.Tenants = 1
	if got := nodeStateWord(drained); got != "draining" {
		t.Fatalf("a draining node with a tenant shows %q", got)
	}
}

func TestStuckOnNamesOnlyTenantsThatCannotMove(t *testing.T) {
	ts := func(id, node, reason string, move *zakiv1.Move) *zakiv1.TenantStatus {
		return &zakiv1.TenantStatus{Tenant: &zakiv1.Tenant{Id: id},
			Placement: &zakiv1.Placement{NodeId: node, Reason: reason, Move: move}}
	}
	got := stuckOn("node-a", []*zakiv1.TenantStatus{
		ts("1", "node-a", "node node-a is draining, but this tenant cannot move now: no node can take it; tried again every 1s", nil),
		ts("2", "node-a", "node node-a is draining; this tenant waits its turn, 2 moves go at a time", nil),
		ts("3", "node-a", "", &zakiv1.Move{ToNodeId: "node-b"}),
		ts("4", "node-b", "node node-b is draining, but this tenant cannot move now: x", nil),
	})
	if len(got) != 1 || got[0][0] != "1" || got[0][1] != "no node can take it; tried again every 1s" {
		t.Fatalf("stuck tenants: %q", got)
	}
}
