package controlplane

import (
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

func TestScheduleFiltersAndScores(t *testing.T) {
	binpack, spread := zakiv1.SchedulerPolicy_SCHEDULER_POLICY_BINPACK, zakiv1.SchedulerPolicy_SCHEDULER_POLICY_SPREAD
	// a holds one free tenant (512 MiB of 2 GiB); b is empty (2 GiB, zone=eu);
	// c is small (768 MiB).
	cluster := func() (*view, map[string]bool) {
		v := newView()
		v.profiles = testProfiles
		for _, n := range []*zakiv1.Node{testNode("a", 2048), testNode("b", 2048), testNode("c", 768)} {
			n.State = zakiv1.NodeState_NODE_STATE_ACTIVE
			v.nodes[n.Id] = n
		}
		v.nodes["b"].Labels = map[string]string{"zone": "eu"}
		v.tenants["9"] = &zakiv1.Tenant{Id: "9", Profile: "echo", Tier: "free"}
		v.placements["9"] = placed("a", 20000)
		v.ports["a"] = map[uint32]string{20000: "9"}
		v.tiers["eu"] = &zakiv1.Tier{Name: "eu", MemoryBytes: 256 * mib, Constraints: map[string]string{"zone": "eu"}}
		return v, map[string]bool{"a": true, "b": true, "c": true}
	}
	tenant := func(tier, prof string) *zakiv1.Tenant { return &zakiv1.Tenant{Id: "1", Profile: prof, Tier: tier} }
	cases := []struct {
		name    string
		tenant  *zakiv1.Tenant
		policy  zakiv1.SchedulerPolicy
		setup   func(v *view, live map[string]bool)
		node    string
		port    uint32
		failure string
		says    string
	}{
		{name: "binpack takes the fullest", tenant: tenant("free", "echo"), policy: binpack, node: "a", port: 20001},
		{name: "spread takes the emptiest", tenant: tenant("free", "echo"), policy: spread, node: "b", port: 20000},
		{name: "tier constraints pick the labelled node", tenant: tenant("eu", "echo"), policy: binpack, node: "b", port: 20000},
		{name: "profile memory above the tier's counts", tenant: tenant("eu", "big"), policy: binpack, node: "b",
			setup: func(v *view, _ map[string]bool) { v.nodes["b"].MemoryBytes = 1000 * mib }, failure: reasonNoRoom,
			says: "b: memory (0 reserved + 1073741824 needed"},
		{name: "pro needs 1 GiB: not on the small node", tenant: tenant("pro", "echo"), policy: spread, node: "b", port: 20000,
			setup:   func(v *view, live map[string]bool) { live["b"] = false; live["a"] = false },
			failure: reasonNoRoom, says: "c: memory (0 reserved + 1073741824 needed > 805306368)"},
		{name: "unknown tier stays pending", tenant: tenant("gold", "echo"), policy: binpack,
			failure: reasonUnknownTier, says: `tier "gold" is not defined (known: eu, free, pro)`},
		{name: "cordoned, down and disconnected are skipped", tenant: tenant("free", "echo"), policy: binpack,
			setup: func(v *view, live map[string]bool) {
				v.nodes["a"].State = zakiv1.NodeState_NODE_STATE_CORDONED
				v.down["b"] = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
				live["c"] = false
			},
			failure: reasonNoRoom, says: "a: state cordoned; b: down since 2026-03-01T12:00:00Z; c: not connected"},
		{name: "max tenants", tenant: tenant("free", "echo"), policy: binpack, node: "b", port: 20000,
			setup: func(v *view, _ map[string]bool) { v.nodes["a"].MaxTenants = 1 }},
		{name: "a cooling port is skipped", tenant: tenant("free", "echo"), policy: binpack, node: "a", port: 20002,
			setup: func(v *view, _ map[string]bool) { v.cooling["a"] = map[uint32]bool{20001: true} }},
		{name: "empty tier is the default tier", tenant: tenant("", "echo"), policy: binpack, node: "a", port: 20001},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, live := cluster()
			if tc.setup != nil {
				tc.setup(v, live)
			}
			ch := schedule(v, live, tc.tenant, tc.policy)
			if tc.failure != "" {
				if ch.failure != tc.failure || !strings.Contains(ch.detail, tc.says) {
					t.Fatalf("got %+v, want failure %s saying %q", ch, tc.failure, tc.says)
				}
				return
			}
			if ch.failure != "" || ch.nodeID != tc.node || ch.port != tc.port {
				t.Fatalf("got %+v, want node %s port %d", ch, tc.node, tc.port)
			}
		})
	}
}

func TestStoredTierDecidesReservation(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	if err := s.PutTier(testCtx(t), &zakiv1.Tier{Name: "free", MemoryBytes: 3000 * mib}); err != nil {
		t.Fatal(err)
	}
	register(t, c, testNode("node-1", 2048))
	ensureUser(t, c, 3)
	if p := tenantStatus(t, c, "3").Placement; p.State != zakiv1.PlacementState_PLACEMENT_STATE_PENDING ||
		!strings.Contains(p.Reason, "memory (0 reserved + 3145728000 needed") {
		t.Fatalf("a stored tier larger than the node: %v", p)
	}
	if err := s.PutTier(testCtx(t), &zakiv1.Tier{Name: "free", MemoryBytes: 100 * mib}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "scheduled once the tier shrinks", func() bool {
		return tenantStatus(t, c, "3").Placement.NodeId == "node-1"
	})
}
