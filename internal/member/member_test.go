package member

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/controlplane"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	"github.com/zaki-platform/zaki/internal/testutil"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	)
}

func startCP(t *testing.T, life time.Duration) *controlplane.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := controlplane.Start(ctx, controlplane.Config{
		DataDir:       t.TempDir(),
		EtcdClientURL: fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
		EtcdPeerURL:   fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)),
		GRPCListen:    "127.0.0.1:0",
		CertLifetime:  life,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = s.Wait() })
	return s
}

func token(t *testing.T, s *controlplane.Server, role zakiv1.Role) string {
	t.Helper()
	tok, _, err := s.CreateJoinToken(t.Context(), role, time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// session registers as node over a new connection with c.
func session(t *testing.T, s *controlplane.Server, c *Credentials, node string) error {
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(c.TransportCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := zakiv1.NewAgentServiceClient(conn).Session(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Register{Register: &zakiv1.Register{
		ProtocolVersion: 1, Node: &zakiv1.Node{Id: node, Address: "127.0.0.1", PortMin: 20000, PortMax: 20010,
			MemoryBytes: 1 << 30, MaxTenants: 5}}}}); err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

func TestJoinThenRestart(t *testing.T) {
	s := startCP(t, time.Hour)
	dir := filepath.Join(t.TempDir(), "agent")
	tok := token(t, s, zakiv1.Role_ROLE_AGENT)
	opts := Options{Dir: dir, Role: pki.RoleAgent, NodeID: "node-1", JoinAddr: s.Addr(), Token: tok}
	c, err := Ensure(t.Context(), opts)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	if err := session(t, s, c, "node-1"); err != nil {
		t.Fatalf("session after join: %v", err)
	}
	for _, f := range []string{pki.KeyFile, pki.CertFile, pki.CAFile, addrFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	// The next start: no --join, no token.
	again, err := Ensure(t.Context(), Options{Dir: dir, Role: pki.RoleAgent, NodeID: "node-1"})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if !again.Bundle().Cert.Equal(c.Bundle().Cert) || again.ControlPlane() != s.Addr() {
		t.Fatal("restart did not use the stored credentials")
	}
	if err := session(t, s, again, "node-1"); err != nil {
		t.Fatalf("session after restart: %v", err)
	}

	other := startCP(t, time.Hour)
	cases := []struct {
		name string
		o    Options
		want string
	}{
		{"not joined, no token", Options{Dir: t.TempDir(), Role: pki.RoleAgent, NodeID: "n"}, "not joined"},
		{"another node id", Options{Dir: dir, Role: pki.RoleAgent, NodeID: "node-2"}, `for node "node-1"`},
		{"another role", Options{Dir: dir, Role: pki.RoleRouter}, "for role agent"},
		{"a token of another cluster", Options{Dir: dir, Role: pki.RoleAgent, NodeID: "node-1",
			Token: token(t, other, zakiv1.Role_ROLE_AGENT)}, "another cluster"},
		{"a router token for an agent", Options{Dir: t.TempDir(), Role: pki.RoleAgent, NodeID: "n",
			JoinAddr: s.Addr(), Token: token(t, s, zakiv1.Role_ROLE_ROUTER)}, "is for role router"},
		{"a token pinned to another CA", Options{Dir: t.TempDir(), Role: pki.RoleAgent, NodeID: "n",
			JoinAddr: s.Addr(), Token: token(t, other, zakiv1.Role_ROLE_AGENT)}, "does not match the join token's CA hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Ensure(t.Context(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.o.Token != "" {
				tok, _ := pki.ParseToken(tc.o.Token)
				if strings.Contains(err.Error(), tok.Secret) {
					t.Fatalf("error echoes the token's secret")
				}
			}
		})
	}
	if _, err := Ensure(t.Context(), Options{Dir: t.TempDir(), Role: pki.RoleAgent}); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("want ErrNotJoined, got %v", err)
	}
}

func TestRenewal(t *testing.T) {
	s := startCP(t, 3*time.Second)
	c, err := Ensure(t.Context(), Options{Dir: t.TempDir(), Role: pki.RoleRouter, JoinAddr: s.Addr(),
		Token: token(t, s, zakiv1.Role_ROLE_ROUTER)})
	if err != nil {
		t.Fatal(err)
	}
	first := c.Bundle().Cert
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); c.RunRenewal(ctx, s.Addr(), hclog.NewNullLogger()) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for c.Bundle().Cert.Equal(first) {
		if time.Now().After(deadline) {
			t.Fatal("not renewed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	renewed := c.Bundle().Cert
	life := first.NotAfter.Sub(first.NotBefore)
	if at := time.Since(first.NotBefore); at < life/2-100*time.Millisecond {
		t.Errorf("renewed %v into a %v lifetime, before half", at, life)
	}
	stored, err := Load(c.Dir())
	if err != nil || !stored.Bundle().Cert.Equal(renewed) {
		t.Fatalf("the renewed certificate is not stored: %v", err)
	}
	// Past the first certificate's expiry, new connections still work.
	for time.Now().Before(first.NotAfter.Add(100 * time.Millisecond)) {
		time.Sleep(50 * time.Millisecond)
	}
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(c.TransportCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := zakiv1.NewTenantServiceClient(conn).ListParked(t.Context(), &zakiv1.ListParkedRequest{}); err != nil {
		t.Fatalf("a call after the first certificate expired: %v", err)
	}
}

// TestJoinTriesEachAddress joins through a list whose first address is dead
// and keeps the whole list for later starts.
func TestJoinTriesEachAddress(t *testing.T) {
	s := startCP(t, time.Hour)
	dead := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	list := dead + "," + s.Addr()
	dir := t.TempDir()
	c, err := Ensure(t.Context(), Options{Dir: dir, Role: pki.RoleRouter, JoinAddr: list,
		Token: token(t, s, zakiv1.Role_ROLE_ROUTER)})
	if err != nil {
		t.Fatalf("join through %s: %v", list, err)
	}
	if c.ControlPlane() != list || StoredControlPlane(dir) != list {
		t.Fatalf("kept %q (stored %q), want %q", c.ControlPlane(), StoredControlPlane(dir), list)
	}
	if err := c.Renew(t.Context(), list); err != nil {
		t.Fatalf("renew through %s: %v", list, err)
	}
}
