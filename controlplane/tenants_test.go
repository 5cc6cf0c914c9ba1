package controlplane

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestEnsureTenantRules(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	first := ensureUser(t, c, 123)
	if !first.Created || first.Route.TenantId != "123" || first.Route.WebhookSecret == "" {
		t.Fatalf("first ensure: %v", first)
	}
	user := zakiv1.TenantKind_TENANT_KIND_USER
	group := zakiv1.TenantKind_TENANT_KIND_GROUP
	cases := []struct {
		name     string
		req      *zakiv1.EnsureTenantRequest
		code     codes.Code
		created  bool
		tenantID string
		msg      string
	}{
		{name: "existing user again", req: &zakiv1.EnsureTenantRequest{ChatId: 123, Kind: user,
			OwnerUserId: 123, Create: true}, tenantID: "123"},
		{name: "existing without create", req: &zakiv1.EnsureTenantRequest{ChatId: 123},
			tenantID: "123"},
		{name: "unknown without create", req: &zakiv1.EnsureTenantRequest{ChatId: 999},
			code: codes.NotFound},
		{name: "user owner differs", req: &zakiv1.EnsureTenantRequest{ChatId: 5, Kind: user,
			OwnerUserId: 6, Create: true}, code: codes.InvalidArgument},
		{name: "user negative", req: &zakiv1.EnsureTenantRequest{ChatId: -5, Kind: user,
			OwnerUserId: -5, Create: true}, code: codes.InvalidArgument},
		{name: "no kind", req: &zakiv1.EnsureTenantRequest{ChatId: 5, OwnerUserId: 5, Create: true},
			code: codes.InvalidArgument},
		{name: "group of a stranger", req: &zakiv1.EnsureTenantRequest{ChatId: -4010000001,
			Kind: group, OwnerUserId: 777, Create: true}, code: codes.FailedPrecondition,
			msg: "group -4010000001 was added by 777 who has no tenant; it stays unroutable"},
		{name: "group of a tenant", req: &zakiv1.EnsureTenantRequest{ChatId: -4010000001,
			Kind: group, OwnerUserId: 123, Create: true}, created: true, tenantID: "-4010000001"},
		{name: "id above 2^32", req: &zakiv1.EnsureTenantRequest{ChatId: 1 << 40, Kind: user,
			OwnerUserId: 1 << 40, Create: true}, created: true, tenantID: "1099511627776"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.tenant.EnsureTenant(testCtx(t), tc.req)
			if status.Code(err) != tc.code {
				t.Fatalf("code %v, want %v (%v)", status.Code(err), tc.code, err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q lacks %q", err, tc.msg)
			}
			if err != nil {
				return
			}
			if resp.Created != tc.created || resp.Route.TenantId != tc.tenantID {
				t.Fatalf("got created=%v tenant=%s, want %v %s", resp.Created, resp.Route.TenantId,
					tc.created, tc.tenantID)
			}
			if tc.tenantID == "123" && resp.Route.WebhookSecret != first.Route.WebhookSecret {
				t.Fatal("an idempotent ensure changed the tenant's secrets")
			}
		})
	}
}

func TestEnsureTenantConcurrent(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	register(t, c, testNode("node-1", 64*1024))

	t.Run("distinct chats get distinct ports", func(t *testing.T) {
		const n = 30
		routes := make([]*zakiv1.Route, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { routes[i] = ensureUser(t, c, int64(1000+i)).Route })
		}
		wg.Wait()
		ports := map[uint32]string{}
		for _, r := range routes {
			if r.State != zakiv1.PlacementState_PLACEMENT_STATE_SCHEDULED || r.HostPort == 0 {
				t.Fatalf("tenant %s not scheduled: %v", r.TenantId, r)
			}
			if other, dup := ports[r.HostPort]; dup {
				t.Fatalf("port %d given to %s and %s", r.HostPort, other, r.TenantId)
			}
			ports[r.HostPort] = r.TenantId
		}
	})
	t.Run("one chat gets one tenant", func(t *testing.T) {
		const n = 10
		resps := make([]*zakiv1.EnsureTenantResponse, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { resps[i] = ensureUser(t, c, 42) })
		}
		wg.Wait()
		created := 0
		for _, r := range resps {
			if r.Created {
				created++
			}
			if r.Route.HostPort != resps[0].Route.HostPort || r.Route.WebhookSecret != resps[0].Route.WebhookSecret {
				t.Fatalf("two different tenants for one chat: %v vs %v", r.Route.HostPort, resps[0].Route.HostPort)
			}
		}
		if created != 1 {
			t.Fatalf("%d ensures said created, want 1", created)
		}
	})
}

func TestPendingThenScheduled(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	r := ensureUser(t, c, 7).Route
	if r.State != zakiv1.PlacementState_PLACEMENT_STATE_PENDING {
		t.Fatalf("state %v with no nodes, want PENDING", r.State)
	}
	if p := tenantStatus(t, c, "7").Placement; !strings.Contains(p.Reason, "no nodes") {
		t.Fatalf("pending reason %q", p.Reason)
	}
	// A node too small for the tenant: still pending, with the node's reason.
	small, _ := register(t, c, testNode("small-1", 32))
	eventually(t, "reason naming the small node", func() bool {
		return strings.Contains(tenantStatus(t, c, "7").Placement.Reason, "small-1: memory")
	})
	small.cancel()

	agent, _ := register(t, c, testNode("node-2", 1024))
	up := agent.recv().GetChange().GetUpsert()
	if up == nil || up.TenantId != "7" || up.Generation != 1 || up.HostPort != 20000 {
		t.Fatalf("want an upsert of tenant 7 at generation 1 on port 20000, got %v", up)
	}
	p := tenantStatus(t, c, "7").Placement
	if p.State != zakiv1.PlacementState_PLACEMENT_STATE_SCHEDULED || p.NodeId != "node-2" {
		t.Fatalf("placement %v", p)
	}
}

func TestSchedulerBinPacks(t *testing.T) {
	v := newView()
	v.profiles = testProfiles
	v.nodes["a"] = testNode("a", 1024)
	v.nodes["b"] = testNode("b", 1024)
	v.nodes["c"] = testNode("c", 1024)
	v.nodes["c"].State = zakiv1.NodeState_NODE_STATE_CORDONED
	for _, n := range v.nodes {
		if n.Id != "c" {
			n.State = zakiv1.NodeState_NODE_STATE_ACTIVE
		}
	}
	live := map[string]bool{"a": true, "b": true, "c": true}
	echo := &zakiv1.Tenant{Id: "1", Profile: "echo"}
	cases := []struct {
		name    string
		setup   func()
		node    string
		port    uint32
		failure string
	}{
		{name: "empty nodes tie by id", node: "a", port: 20000},
		{name: "fullest that fits", setup: func() { v.placements["9"] = placed("b", 20000); v.tenants["9"] = echo },
			node: "b", port: 20001},
		{name: "unknown profile", setup: func() { echo = &zakiv1.Tenant{Id: "1", Profile: "nope"} },
			failure: reasonUnknownProfile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			v.ports["b"] = map[uint32]string{20000: "9"}
			ch := schedule(v, live, echo, zakiv1.SchedulerPolicy_SCHEDULER_POLICY_BINPACK)
			if ch.failure != tc.failure || ch.nodeID != tc.node || ch.port != tc.port {
				t.Fatalf("got %+v, want node %s port %d failure %q", ch, tc.node, tc.port, tc.failure)
			}
		})
	}
}

func placed(node string, port uint32) *zakiv1.Placement {
	return &zakiv1.Placement{NodeId: node, HostPort: port, Generation: 1,
		State: zakiv1.PlacementState_PLACEMENT_STATE_RUNNING}
}

func TestBindChatAndSetBot(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ensureUser(t, c, 11)
	ctx := testCtx(t)
	if _, err := c.tenant.SetBot(ctx, &zakiv1.SetBotRequest{BotId: 555}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.tenant.SetBot(ctx, &zakiv1.SetBotRequest{BotId: 555}); err != nil {
		t.Fatalf("same bot again: %v", err)
	}
	if _, err := c.tenant.SetBot(ctx, &zakiv1.SetBotRequest{BotId: 556}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("another bot: %v", err)
	}
	r, err := c.tenant.BindChat(ctx, &zakiv1.BindChatRequest{ChatId: -100500, TenantId: "11"})
	if err != nil || fmt.Sprint(r.Route.ChatIds) != "[-100500 11]" {
		t.Fatalf("bind: %v %v", r, err)
	}
	if _, err := c.tenant.BindChat(ctx, &zakiv1.BindChatRequest{ChatId: -100500, TenantId: "11"}); err != nil {
		t.Fatalf("bind again: %v", err)
	}
	if _, err := c.tenant.BindChat(ctx, &zakiv1.BindChatRequest{ChatId: 1, TenantId: "404"}); status.Code(err) != codes.NotFound {
		t.Fatalf("bind to unknown tenant: %v", err)
	}
}
