package controlplane

import (
	"context"
	"fmt"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/testutil"
	"github.com/zaki-platform/zaki/profile"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// Process-wide singletons of etcd's and gRPC's libraries.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
		// Embedded etcd members of one cluster (ha_test.go) talk over HTTP
		// keep-alive connections that end a moment after the members close;
		// the control plane itself serves no such connections.
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*connReader).backgroundRead"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
	)
}

const mib = 1 << 20

// testProfiles stands in for the built-in profiles, so these tests do not
// depend on what the profile package registers.
func testProfiles(name string) (profile.Profile, error) {
	switch name {
	case "echo":
		return profile.Profile{Name: "echo", MemoryBytes: 64 * mib, WebhookPath: "/echo-hook"}, nil
	case "big":
		return profile.Profile{Name: "big", MemoryBytes: 1024 * mib, WebhookPath: "/big"}, nil
	}
	return profile.Profile{}, fmt.Errorf("unknown assistant profile %q", name)
}

// testConfig is a control plane on embedded etcd with free loopback ports, a
// temp data dir and no fsync, changed by mods.
func testConfig(t testing.TB, mods ...func(*Config)) Config {
	t.Helper()
	cfg := Config{
		DataDir:          t.TempDir(),
		EtcdClientURL:    fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
		EtcdPeerURL:      fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
		GRPCListen:       "127.0.0.1:0",
		HeartbeatPeriod:  time.Second,
		ProgressInterval: 200 * time.Millisecond,
		DefaultProfile:   "echo",
		unsafeNoFsync:    true,
		profiles:         testProfiles,
		pendingRetry:     200 * time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}

// startServer runs a control plane of testConfig(mods) until the test ends.
func startServer(t testing.TB, mods ...func(*Config)) *Server {
	t.Helper()
	return startConfig(t, testConfig(t, mods...))
}

// startConfig runs a control plane of cfg until the test ends.
func startConfig(t testing.TB, cfg Config) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := s.Wait(); err != nil {
			t.Errorf("wait: %v", err)
		}
	})
	return s
}

// clients are gen clients of one server.
type clients struct {
	agent  zakiv1.AgentServiceClient
	tenant zakiv1.TenantServiceClient
	admin  zakiv1.AdminServiceClient
}

func dial(t *testing.T, s *Server) clients {
	t.Helper()
	// A control plane's certificate may call every service, as these tests do.
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(memberCreds(t, s, superuser)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return clients{zakiv1.NewAgentServiceClient(conn), zakiv1.NewTenantServiceClient(conn),
		zakiv1.NewAdminServiceClient(conn)}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testNode(id string, memMiB int64) *zakiv1.Node {
	return &zakiv1.Node{Id: id, Address: "10.0.0." + id[len(id)-1:], PortMin: 20000, PortMax: 20999,
		MemoryBytes: memMiB * mib, MaxTenants: 100}
}

// fakeAgent is a gen client playing an agent.
type fakeAgent struct {
	t      *testing.T
	stream grpc.BidiStreamingClient[zakiv1.SessionRequest, zakiv1.SessionResponse]
	cancel context.CancelFunc
}

// register opens a session for node and returns the agent and its desired set.
func register(t *testing.T, c clients, node *zakiv1.Node) (*fakeAgent, *zakiv1.DesiredSet) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := c.agent.Session(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	a := &fakeAgent{t: t, stream: stream, cancel: cancel}
	t.Cleanup(cancel)
	a.send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Register{
		Register: &zakiv1.Register{ProtocolVersion: 1, Node: node}}})
	if w := a.recv().GetWelcome(); w == nil || w.HeartbeatPeriod.AsDuration() <= 0 {
		t.Fatalf("want Welcome with a heartbeat period, got %v", w)
	}
	d := a.recv().GetDesired()
	if d == nil {
		t.Fatal("want DesiredSet after Welcome")
	}
	return a, d
}

func (a *fakeAgent) send(m *zakiv1.SessionRequest) {
	a.t.Helper()
	if err := a.stream.Send(m); err != nil {
		a.t.Fatalf("agent send: %v", err)
	}
}

func (a *fakeAgent) recv() *zakiv1.SessionResponse {
	a.t.Helper()
	m, err := a.stream.Recv()
	if err != nil {
		a.t.Fatalf("agent recv: %v", err)
	}
	return m
}

func (a *fakeAgent) status(tenant string, gen uint64, st zakiv1.PlacementState, reason string) {
	a.t.Helper()
	a.send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Status{Status: &zakiv1.ContainerStatus{
		TenantId: tenant, Generation: gen, State: st, Reason: reason}}})
}

// eventually polls cond until it holds or 20s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ensureUser(t *testing.T, c clients, id int64) *zakiv1.EnsureTenantResponse {
	t.Helper()
	resp, err := c.tenant.EnsureTenant(testCtx(t), &zakiv1.EnsureTenantRequest{ChatId: id,
		Kind: zakiv1.TenantKind_TENANT_KIND_USER, OwnerUserId: id, Create: true})
	if err != nil {
		t.Fatalf("ensure %d: %v", id, err)
	}
	return resp
}

// tenantStatus returns the admin listing's entry of tenant id.
func tenantStatus(t *testing.T, c clients, id string) *zakiv1.TenantStatus {
	t.Helper()
	resp, err := c.admin.ListTenants(testCtx(t), &zakiv1.ListTenantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range resp.Tenants {
		if ts.Tenant.Id == id {
			return ts
		}
	}
	t.Fatalf("tenant %s not listed", id)
	return nil
}
