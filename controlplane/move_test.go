package controlplane

import (
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestMoveTenant(t *testing.T) {
	s := startServer(t, patient, func(c *Config) { c.PortCooldown = 30 * time.Second })
	c := dial(t, s)
	src, _ := register(t, c, moveNode("node-1", 4096))
	ensureUser(t, c, 1)
	if a := src.recv().GetChange().GetUpsert(); a.GetGeneration() != 1 || a.HostPort != 20000 {
		t.Fatalf("first assignment: %v", a)
	}
	src.status("1", 1, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING, "")
	eventually(t, "tenant 1 running", func() bool {
		return placement(t, s, "1").State == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})
	dst, _ := register(t, c, moveNode("node-2", 4096))

	p := moveTenant(t, c, "1", "node-2")
	m := p.GetMove()
	if p.NodeId != "node-1" || p.HostPort != 20000 || p.Generation != 2 ||
		p.State != zakiv1.PlacementState_PLACEMENT_STATE_MOVING || m.GetToNodeId() != "node-2" ||
		m.ToHostPort != 20000 || m.Phase != zakiv1.MovePhase_MOVE_PHASE_STOPPING || m.Cause != "operator" ||
		m.StartedAt == nil {
		t.Fatalf("placement of a starting move: %v", p)
	}

	t.Run("stopping: the source stops, the target has nothing yet", func(t *testing.T) {
		a := src.recv().GetChange().GetUpsert()
		if a.GetGeneration() != 2 || a.HostPort != 20000 || !a.Stopped || a.MoveToNodeId != "node-2" ||
			a.RestoreFrom != nil {
			t.Fatalf("source assignment: %v", a)
		}
		v, err := s.loadView(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if as := assignmentsFor(v, "node-2"); len(as) != 0 {
			t.Fatalf("the target got %v before the source stopped", as)
		}
		if got := string(rawKV(t, s, portKey("node-2", 20000)).Kvs[0].Value); got != "1" {
			t.Fatalf("the target's port is claimed by %q", got)
		}
	})
	t.Run("the route parks at the source", func(t *testing.T) {
		r := watchRoutes(t, c).next().GetSnapshot().GetRoutes()[0]
		if r.State != zakiv1.PlacementState_PLACEMENT_STATE_MOVING || r.NodeAddress != "10.0.0.1" ||
			r.HostPort != 20000 || r.Generation != 2 {
			t.Fatalf("route during a move: %v", r)
		}
	})
	t.Run("it counts on both nodes", func(t *testing.T) {
		nodes, err := c.admin.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.Nodes {
			if n.Tenants != 1 || n.MemoryReservedBytes != 512*mib {
				t.Fatalf("node %s: %d tenants, %d bytes", n.Node.Id, n.Tenants, n.MemoryReservedBytes)
			}
		}
	})
	t.Run("stale and early reports are ignored", func(t *testing.T) {
		for _, r := range []struct {
			node  string
			gen   uint64
			state zakiv1.PlacementState
		}{
			{"node-1", 1, zakiv1.PlacementState_PLACEMENT_STATE_STOPPED},
			{"node-1", 1, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING},
			{"node-2", 2, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING},
			{"node-3", 2, zakiv1.PlacementState_PLACEMENT_STATE_STOPPED},
		} {
			applied, err := s.applyStatus(testCtx(t), r.node, &zakiv1.ContainerStatus{TenantId: "1",
				Generation: r.gen, State: r.state})
			if applied || err != nil {
				t.Fatalf("%v: applied %v, %v", r, applied, err)
			}
		}
		if ph := placement(t, s, "1").GetMove().GetPhase(); ph != zakiv1.MovePhase_MOVE_PHASE_STOPPING {
			t.Fatalf("phase %v", ph)
		}
	})

	src.status("1", 2, zakiv1.PlacementState_PLACEMENT_STATE_STOPPED, "")
	t.Run("copying: the target restores from the source", func(t *testing.T) {
		a := dst.recv().GetChange().GetUpsert()
		if a.GetGeneration() != 2 || a.HostPort != 20000 || a.Stopped ||
			a.RestoreFrom.GetNodeId() != "node-1" || a.RestoreFrom.TransferAddress != "10.0.0.1:7500" {
			t.Fatalf("target assignment: %v", a)
		}
		if ph := placement(t, s, "1").GetMove().GetPhase(); ph != zakiv1.MovePhase_MOVE_PHASE_COPYING {
			t.Fatalf("phase %v", ph)
		}
	})
	t.Run("a failure is recorded, the phase kept", func(t *testing.T) {
		dst.status("1", 2, zakiv1.PlacementState_PLACEMENT_STATE_FAILED, "checksum mismatch")
		eventually(t, "the move's reason", func() bool {
			return placement(t, s, "1").GetMove().GetReason() == "node node-2: checksum mismatch"
		})
		p := tenantStatus(t, c, "1").Placement
		if p.Move.Phase != zakiv1.MovePhase_MOVE_PHASE_COPYING || p.State != zakiv1.PlacementState_PLACEMENT_STATE_MOVING {
			t.Fatalf("after a failed copy: %v", p)
		}
	})

	routes := watchRoutes(t, c)
	routes.next()
	dst.status("1", 2, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING, "")
	t.Run("running on the target: the flip", func(t *testing.T) {
		eventually(t, "the flip", func() bool { return placement(t, s, "1").NodeId == "node-2" })
		p := placement(t, s, "1")
		if p.HostPort != 20000 || p.Generation != 2 || p.State != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING ||
			p.Move != nil {
			t.Fatalf("after the flip: %v", p)
		}
		if a := src.recv().GetChange().GetUpsert(); a.GetTenantId() != "1" || !a.Discard || a.Stopped ||
			a.Generation != 2 {
			t.Fatalf("the source was told %v, want tenant 1's leftovers discarded", a)
		}
		if a := dst.recv().GetChange().GetUpsert(); a.GetGeneration() != 2 || a.RestoreFrom != nil {
			t.Fatalf("target assignment after the flip: %v", a)
		}
		if r := routes.nextChange().GetUpsert(); r.GetNodeAddress() != "10.0.0.2" || r.HostPort != 20000 ||
			r.Generation != 2 || r.State != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
			t.Fatalf("route after the flip: %v", r)
		}
	})
	t.Run("the source discards the leftovers, then forgets them", func(t *testing.T) {
		if kv := rawKV(t, s, leftoverKey("node-1", "1")); len(kv.Kvs) != 1 {
			t.Fatal("the flip recorded no leftovers on the source")
		}
		applied, err := s.applyStatus(testCtx(t), "node-1", &zakiv1.ContainerStatus{TenantId: "1",
			Generation: 1, State: zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED})
		if applied || err != nil {
			t.Fatalf("a discard report of another generation: applied %v, %v", applied, err)
		}
		src.status("1", 2, zakiv1.PlacementState_PLACEMENT_STATE_DISCARDED, "")
		if id := src.recv().GetChange().GetRemoveTenantId(); id != "1" {
			t.Fatalf("after discarding, the source was told %q, want tenant 1 removed", id)
		}
		if kv := rawKV(t, s, leftoverKey("node-1", "1")); len(kv.Kvs) != 0 {
			t.Fatal("the leftovers record outlived the discard")
		}
		if p := placement(t, s, "1"); p.NodeId != "node-2" || p.State != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
			t.Fatalf("the discard touched the placement: %v", p)
		}
	})
	t.Run("the source's port cools down", func(t *testing.T) {
		if kv := rawKV(t, s, portKey("node-1", 20000)); len(kv.Kvs) != 0 {
			t.Fatal("the source's port is still claimed")
		}
		if kv := rawKV(t, s, cooldownKey("node-1", 20000)); len(kv.Kvs) != 1 || kv.Kvs[0].Lease == 0 {
			t.Fatalf("no cooldown under a lease for the source's port: %v", kv.Kvs)
		}
		setState(t, c, "node-2", zakiv1.NodeState_NODE_STATE_CORDONED)
		ensureUser(t, c, 3)
		if p := tenantStatus(t, c, "3").Placement; p.NodeId != "node-1" || p.HostPort != 20001 {
			t.Fatalf("a new tenant during the cooldown: %v", p)
		}
	})
	t.Run("a late report from the source is ignored", func(t *testing.T) {
		applied, err := s.applyStatus(testCtx(t), "node-1", &zakiv1.ContainerStatus{TenantId: "1",
			Generation: 2, State: zakiv1.PlacementState_PLACEMENT_STATE_STOPPED})
		if applied || err != nil || placement(t, s, "1").State != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
			t.Fatalf("applied %v, %v", applied, err)
		}
	})
}

func TestMoveTenantRefusals(t *testing.T) {
	s := startServer(t, patient)
	c := dial(t, s)
	register(t, c, moveNode("node-1", 4096))
	ensureUser(t, c, 1)
	ensureUser(t, c, 11)
	register(t, c, moveNode("node-2", 4096))
	register(t, c, moveNode("node-3", 4096))
	setState(t, c, "node-3", zakiv1.NodeState_NODE_STATE_CORDONED)
	register(t, c, testNode("node-4", 4096)) // serves no transfers
	gone, _ := register(t, c, moveNode("node-5", 4096))
	gone.cancel()
	eventually(t, "node-5 disconnected", func() bool { _, live := nodeState(t, c, "node-5"); return !live })
	register(t, c, moveNode("node-6", 256))
	full := moveNode("node-7", 4096)
	full.MaxTenants = 1
	register(t, c, full)
	if err := s.PutTier(testCtx(t), &zakiv1.Tier{Name: "eu", MemoryBytes: 64 * mib,
		Constraints: map[string]string{"zone": "eu"}}); err != nil {
		t.Fatal(err)
	}
	unheard, down := moveNode("node-8", 4096), moveNode("node-9", 4096)
	eu := freeTenant("12")
	eu.Tier = "eu"
	pending := freeTenant("2")
	pending.Profile = "nope"
	var ops []clientv3.Op
	ops = append(ops, placedOps(freeTenant("70"), "node-7", 20000, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING)...)
	ops = append(ops, placedOps(pending, "", 0, zakiv1.PlacementState_PLACEMENT_STATE_PENDING)...)
	ops = append(ops, placedOps(eu, "node-1", 20010, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING)...)
	ops = append(ops, placedOps(freeTenant("8"), "node-8", 20000, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING)...)
	ops = append(ops, placedOps(freeTenant("9"), "node-9", 20000, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING)...)
	ops = append(ops, placedOps(freeTenant("10"), "node-4", 20000, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING)...)
	ops = append(ops, putProto(nodeKey("node-8"), unheard), putProto(nodeKey("node-9"), down),
		clientv3.OpPut(downKey("node-9"), time.Now().UTC().Format(time.RFC3339Nano)))
	putRaw(t, s, ops...)
	moveTenant(t, c, "11", "node-2")
	// The pending loop says once why tenant 2 waits; after that nothing
	// but a move may write a placement.
	eventually(t, "tenant 2's reason", func() bool {
		return strings.Contains(placement(t, s, "2").Reason, "unknown assistant profile")
	})
	before := placementsAt(t, s)

	cases := []struct {
		name, tenant, to string
		code             codes.Code
		says             string
	}{
		{"no tenant id", "", "node-2", codes.InvalidArgument, "tenant_id is required"},
		{"no target", "1", "", codes.InvalidArgument, "to_node_id is required"},
		{"unknown tenant", "404", "node-2", codes.NotFound, "tenant 404"},
		{"pending tenant", "2", "node-2", codes.FailedPrecondition, "tenant 2 is pending"},
		{"already moving", "11", "node-3", codes.FailedPrecondition, "tenant 11 is already moving to node node-2 (stopping)"},
		{"already there", "1", "node-1", codes.InvalidArgument, "tenant 1 is on node node-1 already"},
		{"unknown target", "1", "node-99", codes.NotFound, "node node-99"},
		{"cordoned target", "1", "node-3", codes.FailedPrecondition, "node node-3 cannot take tenant 1: state cordoned"},
		{"target serves no transfers", "1", "node-4", codes.FailedPrecondition, "node node-4 cannot take tenant 1: its agent serves no volume transfers"},
		{"disconnected target", "1", "node-5", codes.FailedPrecondition, "node node-5 cannot take tenant 1: not connected"},
		{"target without memory", "1", "node-6", codes.FailedPrecondition, "node node-6 cannot take tenant 1: memory (0 reserved + 536870912 needed > 268435456)"},
		{"full target", "1", "node-7", codes.FailedPrecondition, "node node-7 cannot take tenant 1: full (1/1 tenants)"},
		{"target without the tier's labels", "12", "node-2", codes.FailedPrecondition, "node node-2 cannot take tenant 12: labels (tier needs zone=eu)"},
		{"source unknown", "8", "node-2", codes.FailedPrecondition, "node node-8 of tenant 8 is unknown: its data cannot be read"},
		{"source down", "9", "node-2", codes.FailedPrecondition, "node node-9 of tenant 9 is down: its data cannot be read"},
		{"source serves no transfers", "10", "node-2", codes.FailedPrecondition, "node node-4 of tenant 10 cannot hand over its data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.admin.MoveTenant(testCtx(t), &zakiv1.MoveTenantRequest{TenantId: tc.tenant, ToNodeId: tc.to})
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.code, tc.says)
			}
		})
	}
	if after := placementsAt(t, s); len(after) != len(before) {
		t.Fatalf("refused moves wrote placements: %d before, %d after", len(before), len(after))
	} else {
		for k, v := range before {
			if after[k] != v {
				t.Fatalf("a refused move changed %s", k)
			}
		}
	}
}

func TestMoveCountsOnTheTarget(t *testing.T) {
	s := startServer(t, patient)
	c := dial(t, s)
	register(t, c, moveNode("node-1", 4096))
	ensureUser(t, c, 1)
	register(t, c, moveNode("node-2", 600)) // room for one free tenant
	moveTenant(t, c, "1", "node-2")
	setState(t, c, "node-1", zakiv1.NodeState_NODE_STATE_CORDONED)

	ensureUser(t, c, 2)
	p := tenantStatus(t, c, "2").Placement
	if p.State != zakiv1.PlacementState_PLACEMENT_STATE_PENDING ||
		!strings.Contains(p.Reason, "node-2: memory (536870912 reserved") {
		t.Fatalf("a tenant scheduled onto a move's target: %v", p)
	}
	v, err := s.loadView(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if ch := schedule(v, map[string]bool{"node-2": true}, freeTenant("3"),
		zakiv1.SchedulerPolicy_SCHEDULER_POLICY_BINPACK); ch.failure != reasonNoRoom {
		t.Fatalf("the scheduler would overbook the target: %+v", ch)
	}
}

func TestRemovingTheSourceEndsAMove(t *testing.T) {
	s := startServer(t, patient)
	c := dial(t, s)
	register(t, c, moveNode("node-1", 4096))
	ensureUser(t, c, 1)
	register(t, c, moveNode("node-2", 4096))
	moveTenant(t, c, "1", "node-2")
	if _, err := c.admin.RemoveNode(testCtx(t), &zakiv1.RemoveNodeRequest{NodeId: "node-1", Force: true}); err != nil {
		t.Fatal(err)
	}
	p := placement(t, s, "1")
	if p.NodeId != "" || p.Move != nil || p.State != zakiv1.PlacementState_PLACEMENT_STATE_FAILED || p.Generation != 3 {
		t.Fatalf("a moving tenant of a removed node: %v", p)
	}
	if kv := rawKV(t, s, portKey("node-2", 20000)); len(kv.Kvs) != 0 {
		t.Fatal("the target's port is still claimed")
	}
	if kv := rawKV(t, s, cooldownKey("node-2", 20000)); len(kv.Kvs) != 1 {
		t.Fatal("the target's port does not cool down")
	}
}

// TestMoveWaitingForLostTargetSaysSo: a tenant stopped on its source while
// its move's target is down is shown waiting for that target.
func TestMoveWaitingForLostTargetSaysSo(t *testing.T) {
	s := startServer(t, patient)
	c := dial(t, s)
	register(t, c, moveNode("node-1", 4096))
	target := moveNode("node-2", 4096)
	target.State = zakiv1.NodeState_NODE_STATE_DOWN
	ops := placedOps(freeTenant("5"), "node-1", 20000, zakiv1.PlacementState_PLACEMENT_STATE_MOVING)
	p := &zakiv1.Placement{TenantId: "5", NodeId: "node-1", HostPort: 20000, Generation: 2,
		State: zakiv1.PlacementState_PLACEMENT_STATE_MOVING,
		Move:  &zakiv1.Move{ToNodeId: "node-2", ToHostPort: 20000, Phase: zakiv1.MovePhase_MOVE_PHASE_COPYING}}
	putRaw(t, s, ops...)
	putRaw(t, s, putProto(nodeKey("node-2"), target), putProto(placementKey("5"), p))
	got := tenantStatus(t, c, "5").Placement.GetReason()
	if !strings.Contains(got, "target node node-2 is not reporting") {
		t.Fatalf("reason of a move whose target is down: %q", got)
	}
	if stored := placement(t, s, "5").GetReason(); stored != "" {
		t.Fatalf("the shown reason was written to etcd: %q", stored)
	}
}

// TestMoveBackDropsLeftovers: moving a tenant back to a node that still has
// its leftovers from an earlier move away drops the record in the same
// transaction, so the node restores the tenant instead of discarding it.
func TestMoveBackDropsLeftovers(t *testing.T) {
	s := startServer(t, patient)
	c := dial(t, s)
	src, _ := register(t, c, moveNode("node-1", 4096))
	discard(src)
	register(t, c, moveNode("node-2", 4096))
	putRaw(t, s, placedOps(freeTenant("6"), "node-1", 20000, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING)...)
	putRaw(t, s, putProto(leftoverKey("node-2", "6"), &zakiv1.Placement{TenantId: "6", NodeId: "node-2",
		HostPort: 20003, Generation: 1}))
	v, err := s.loadView(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if a := assignmentsFor(v, "node-2")["6"]; !a.GetDiscard() || a.HostPort != 20003 {
		t.Fatalf("node-2's assignment for its leftovers: %v", a)
	}
	moveTenant(t, c, "6", "node-2")
	if kv := rawKV(t, s, leftoverKey("node-2", "6")); len(kv.Kvs) != 0 {
		t.Fatal("a move back to node-2 kept the leftovers record there")
	}
}
