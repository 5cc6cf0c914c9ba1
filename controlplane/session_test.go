package controlplane

import (
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSessionLifecycle(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	if _, err := c.tenant.SetBot(testCtx(t), &zakiv1.SetBotRequest{BotId: 8000000001}); err != nil {
		t.Fatal(err)
	}
	agent, desired := register(t, c, testNode("node-1", 1024))
	if len(desired.Assignments) != 0 || desired.Revision == 0 {
		t.Fatalf("desired set of an empty cluster: %v", desired)
	}

	ensureUser(t, c, 101)
	a := agent.recv().GetChange().GetUpsert()
	if a == nil || a.TenantId != "101" || a.BotId != 8000000001 || a.Secrets.GetBotApiSecret() == "" ||
		a.Generation != 1 || len(a.ChatIds) != 1 || a.ChatIds[0] != 101 || a.Profile != "echo" {
		t.Fatalf("upsert of the new tenant: %v", a)
	}

	agent.status("101", 1, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING, "")
	eventually(t, "RUNNING in ListTenants", func() bool {
		return tenantStatus(t, c, "101").Placement.State == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})
	routes := watchRoutes(t, c)
	snap := routes.next().GetSnapshot()
	if len(snap.GetRoutes()) != 1 || snap.Routes[0].State != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING ||
		snap.Routes[0].NodeAddress != "10.0.0.1" || snap.Routes[0].HostPort != a.HostPort {
		t.Fatalf("route snapshot: %v", snap)
	}

	// A report about another generation says nothing about this one.
	agent.status("101", 7, zakiv1.PlacementState_PLACEMENT_STATE_FAILED, "stale")
	// The status change above must not re-send tenant 101: the next message
	// the agent sees is tenant 102's upsert.
	ensureUser(t, c, 102)
	if next := agent.recv().GetChange().GetUpsert(); next.GetTenantId() != "102" {
		t.Fatalf("want only tenant 102's upsert, got %v", next)
	}
	if p := tenantStatus(t, c, "101").Placement; p.State != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING {
		t.Fatalf("a stale generation changed the placement: %v", p)
	}

	nodes, err := c.admin.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{})
	if err != nil || len(nodes.Nodes) != 1 {
		t.Fatalf("list nodes: %v %v", nodes, err)
	}
	n := nodes.Nodes[0]
	if !n.Connected || n.Tenants != 2 || n.MemoryReservedBytes != 1024*mib || n.LastHeartbeat == nil ||
		n.Node.State != zakiv1.NodeState_NODE_STATE_ACTIVE {
		t.Fatalf("node status: %v", n)
	}
}

func TestSessionRejects(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	cases := []struct {
		name string
		msg  *zakiv1.SessionRequest
	}{
		{"heartbeat first", &zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Heartbeat{}}},
		{"bad node id", regMsg(1, &zakiv1.Node{Id: "Node_1", Address: "a", PortMin: 1, PortMax: 2, MemoryBytes: 1})},
		{"protocol 2", regMsg(2, testNode("node-1", 64))},
		{"no port range", regMsg(1, &zakiv1.Node{Id: "n1", Address: "a", MemoryBytes: 1})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := c.agent.Session(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(tc.msg); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
		})
	}
}

func regMsg(version uint32, n *zakiv1.Node) *zakiv1.SessionRequest {
	return &zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Register{
		Register: &zakiv1.Register{ProtocolVersion: version, Node: n}}}
}

func TestSessionHeartbeatsAndReplacement(t *testing.T) {
	s := startServer(t, func(c *Config) { c.HeartbeatPeriod = 100 * time.Millisecond })
	c := dial(t, s)

	t.Run("a newer session replaces the older", func(t *testing.T) {
		old, _ := register(t, c, testNode("node-1", 64))
		fresh, _ := register(t, c, testNode("node-1", 64))
		if _, err := old.stream.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("old session ended with %v, want Unavailable", err)
		}
		fresh.send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Heartbeat{Heartbeat: &zakiv1.Heartbeat{}}})
		fresh.cancel()
	})
	t.Run("missed heartbeats end the session", func(t *testing.T) {
		silent, _ := register(t, c, testNode("node-2", 64))
		start := time.Now()
		if _, err := silent.stream.Recv(); status.Code(err) != codes.Unavailable {
			t.Fatalf("silent session ended with %v, want Unavailable", err)
		}
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Fatalf("session closed after %v, before three periods", took)
		}
		eventually(t, "node-2 disconnected", func() bool {
			live, _ := s.sessions.status("node-2")
			return !live
		})
	})
}

// routeStream reads a WatchRoutes stream.
type routeStream struct {
	t    *testing.T
	recv func() (*zakiv1.WatchRoutesResponse, error)
}

func watchRoutes(t *testing.T, c clients) *routeStream {
	t.Helper()
	stream, err := c.tenant.WatchRoutes(testCtx(t), &zakiv1.WatchRoutesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return &routeStream{t: t, recv: stream.Recv}
}

func (r *routeStream) next() *zakiv1.WatchRoutesResponse {
	r.t.Helper()
	m, err := r.recv()
	if err != nil {
		r.t.Fatalf("watch routes: %v", err)
	}
	return m
}

// nextChange skips Progress events.
func (r *routeStream) nextChange() *zakiv1.WatchRoutesResponse {
	r.t.Helper()
	for range 1000 {
		if m := r.next(); m.GetProgress() == nil {
			return m
		}
	}
	r.t.Fatal("only progress events")
	return nil
}
