package controlplane

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestCordonExcludesAndKeepsTenants(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	register(t, c, testNode("node-1", 4096))
	register(t, c, testNode("node-2", 4096))
	if n := ensureUser(t, c, 1); tenantStatus(t, c, "1").Placement.NodeId != "node-1" {
		t.Fatalf("first tenant: %v", n)
	}
	setState(t, c, "node-1", zakiv1.NodeState_NODE_STATE_CORDONED)
	if st, _ := nodeState(t, c, "node-1"); st != zakiv1.NodeState_NODE_STATE_CORDONED {
		t.Fatalf("state after cordon: %v", st)
	}
	ensureUser(t, c, 2)
	if p := tenantStatus(t, c, "2").Placement; p.NodeId != "node-2" {
		t.Fatalf("a tenant landed on the cordoned node: %v", p)
	}
	if p := tenantStatus(t, c, "1").Placement; p.NodeId != "node-1" ||
		p.State != zakiv1.PlacementState_PLACEMENT_STATE_SCHEDULED {
		t.Fatalf("cordon moved a tenant: %v", p)
	}
	setState(t, c, "node-1", zakiv1.NodeState_NODE_STATE_ACTIVE)
	ensureUser(t, c, 3)
	if p := tenantStatus(t, c, "3").Placement; p.NodeId != "node-1" {
		t.Fatalf("after uncordon (a tie, broken by id): %v", p)
	}

	cases := []struct {
		name  string
		node  string
		state zakiv1.NodeState
		code  codes.Code
		says  string
	}{
		{"down is not an operator's state", "node-1", zakiv1.NodeState_NODE_STATE_DOWN, codes.InvalidArgument, "only active"},
		{"unknown node", "node-9", zakiv1.NodeState_NODE_STATE_CORDONED, codes.NotFound, "node-9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.admin.SetNodeState(testCtx(t), &zakiv1.SetNodeStateRequest{NodeId: tc.node, State: tc.state})
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.code, tc.says)
			}
		})
	}
}

func TestRemoveNodeAndPortCooldown(t *testing.T) {
	s := startServer(t, func(c *Config) { c.PortCooldown = time.Second })
	var mu sync.Mutex
	var revoked []string
	s.fleet.revokeNodeCerts = func(_ context.Context, id string) error {
		mu.Lock()
		defer mu.Unlock()
		revoked = append(revoked, id)
		return nil
	}
	c := dial(t, s)
	agent, _ := register(t, c, testNode("node-1", 4096))
	ensureUser(t, c, 5)
	if p := tenantStatus(t, c, "5").Placement; p.HostPort != 20000 {
		t.Fatalf("first port: %v", p)
	}

	_, err := c.admin.RemoveNode(testCtx(t), &zakiv1.RemoveNodeRequest{NodeId: "node-1"})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "holds 1 tenant(s) (5)") {
		t.Fatalf("rm of a node with a tenant: %v", err)
	}
	if _, err := c.admin.RemoveNode(testCtx(t), &zakiv1.RemoveNodeRequest{NodeId: "node-1", Force: true}); err != nil {
		t.Fatalf("rm --force: %v", err)
	}
	if err := sessionEnd(agent); status.Code(err) != codes.Unavailable {
		t.Fatalf("the removed node's session ended with %v, want Unavailable", err)
	}
	mu.Lock()
	if len(revoked) != 1 || revoked[0] != "node-1" {
		t.Fatalf("revoked %v, want node-1", revoked)
	}
	mu.Unlock()
	nodes, err := c.admin.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{})
	if err != nil || len(nodes.Nodes) != 0 {
		t.Fatalf("nodes after rm: %v %v", nodes, err)
	}
	p := tenantStatus(t, c, "5").Placement
	if p.NodeId != "" || p.State != zakiv1.PlacementState_PLACEMENT_STATE_FAILED || p.Generation != 2 ||
		!strings.Contains(p.Reason, "removed by force") {
		t.Fatalf("tenant of a removed node: %v", p)
	}
	if kv := rawKV(t, s, portKey("node-1", 20000)); len(kv.Kvs) != 0 {
		t.Fatal("the removed node's port claim is still there")
	}
	if _, err := c.admin.RemoveNode(testCtx(t), &zakiv1.RemoveNodeRequest{NodeId: "node-1"}); status.Code(err) != codes.NotFound {
		t.Fatalf("rm again: %v", err)
	}

	// The host joins again under the same id: its released port cools down.
	register(t, c, testNode("node-1", 4096))
	ensureUser(t, c, 6)
	if p := tenantStatus(t, c, "6").Placement; p.HostPort != 20001 {
		t.Fatalf("a new tenant got port %d during the cooldown of 20000", p.HostPort)
	}
	eventually(t, "the cooldown to end", func() bool {
		return len(rawKV(t, s, cooldownKey("node-1", 20000)).Kvs) == 0
	})
	ensureUser(t, c, 8)
	if p := tenantStatus(t, c, "8").Placement; p.HostPort != 20000 {
		t.Fatalf("after the cooldown, port %d, want 20000 again", p.HostPort)
	}
}

func setState(t *testing.T, c clients, id string, st zakiv1.NodeState) {
	t.Helper()
	if _, err := c.admin.SetNodeState(testCtx(t), &zakiv1.SetNodeStateRequest{NodeId: id, State: st}); err != nil {
		t.Fatalf("set %s %v: %v", id, st, err)
	}
}

// sessionEnd reads a session's changes until it ends, and returns why.
func sessionEnd(a *fakeAgent) error {
	for range 1000 {
		if _, err := a.stream.Recv(); err != nil {
			return err
		}
	}
	return nil
}
