package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	"github.com/zaki-platform/zaki/internal/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// newToken makes a join token through the admin API.
func newToken(t *testing.T, c clients, role zakiv1.Role, ttl time.Duration) string {
	t.Helper()
	resp, err := c.admin.CreateJoinToken(testCtx(t), &zakiv1.CreateJoinTokenRequest{Role: role,
		Ttl: durationpb.New(ttl), Description: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Token
}

// join runs the Join RPC as a joiner does: TLS pinned by the token's CA
// hash, no client certificate, a fresh key.
func join(t *testing.T, s *Server, token, nodeID string) (*pki.Bundle, error) {
	t.Helper()
	return joinAs(t, s, token, nodeID, "")
}

// joinAs joins like join with a request that names role ("" names none and
// leaves the role to the token).
func joinAs(t *testing.T, s *Server, token, nodeID string, role pki.Role) (*pki.Bundle, error) {
	t.Helper()
	hash := s.trust.ca.Hash()
	if tok, err := pki.ParseToken(token); err == nil {
		hash = tok.CAHash
	}
	conn := dialWith(t, s, credentials.NewTLS(pki.PinnedTLS(hash, time.Now)))
	key, _ := pki.NewKey()
	csr, _ := pki.NewCSR(key, pki.Identity{Role: role, ID: "x"})
	resp, err := zakiv1.NewJoinServiceClient(conn).Join(testCtx(t),
		&zakiv1.JoinRequest{Token: token, CsrDer: csr, NodeId: nodeID})
	if err != nil {
		return nil, err
	}
	b := &pki.Bundle{Key: key, CA: s.trust.ca.Cert}
	if b.Cert, err = parseCert(resp.CertDer); err != nil {
		t.Fatal(err)
	}
	return b, b.Check()
}

func TestJoin(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	good := newToken(t, c, zakiv1.Role_ROLE_AGENT, time.Hour)
	revoked := newToken(t, c, zakiv1.Role_ROLE_AGENT, time.Hour)
	if _, err := c.admin.RevokeJoinToken(testCtx(t), &zakiv1.RevokeJoinTokenRequest{Id: tokenID(t, revoked)}); err != nil {
		t.Fatal(err)
	}
	expired := newToken(t, c, zakiv1.Role_ROLE_AGENT, time.Millisecond)
	routerTok := newToken(t, c, zakiv1.Role_ROLE_ROUTER, time.Hour)
	other, _ := pki.NewCA(time.Now())
	goodTok, _ := pki.ParseToken(good)
	wrongSecret := pki.Token{CAHash: goodTok.CAHash, ID: goodTok.ID, Secret: strings.Repeat("A", 26)}
	unknown := pki.Token{CAHash: goodTok.CAHash, ID: "abcdef123456", Secret: goodTok.Secret}
	otherCA := pki.Token{CAHash: other.Hash(), ID: goodTok.ID, Secret: goodTok.Secret}
	cases := []struct {
		name, token, node string
		code              codes.Code
		want              string
	}{
		{"good token", good, "node-a", codes.OK, ""},
		{"good token again, another node", good, "node-b", codes.OK, ""},
		{"a node id that already has a certificate", good, "node-a", codes.FailedPrecondition, "a join never takes over a node"},
		{"wrong secret", wrongSecret.String(), "node-c", codes.Unauthenticated, "unknown or its secret is wrong"},
		{"unknown token", unknown.String(), "node-c", codes.Unauthenticated, "unknown or its secret is wrong"},
		{"revoked token", revoked, "node-c", codes.Unauthenticated, "was revoked"},
		{"expired token", expired, "node-c", codes.Unauthenticated, "expired at"},
		{"token of another CA", otherCA.String(), "node-c", codes.Unavailable, "does not match the join token's CA hash"},
		{"malformed token", "ZKT1.nope", "node-c", codes.InvalidArgument, "malformed join token"},
		{"agent without node id", good, "", codes.InvalidArgument, "joins with its node id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := join(t, s, tc.token, tc.node)
			if status.Code(err) != tc.code || (tc.want != "" && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("join: %v, want %v with %q", err, tc.code, tc.want)
			}
			if err != nil {
				for _, secret := range []string{goodTok.Secret, wrongSecret.Secret} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error echoes a secret: %v", err)
					}
				}
				return
			}
			if id, _ := b.Identity(); id != (pki.Identity{Role: pki.RoleAgent, ID: tc.node}) {
				t.Fatalf("identity %v", id)
			}
		})
	}
	t.Run("an agent with a router's token", func(t *testing.T) {
		_, err := joinAs(t, s, routerTok, "node-r", pki.RoleAgent)
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "is for role router, but this joiner asks to be agent") {
			t.Fatalf("join: %v, want FailedPrecondition naming both roles", err)
		}
	})
	list, err := c.admin.ListJoinTokens(testCtx(t), &zakiv1.ListJoinTokensRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range list.Tokens {
		if info.Id == goodTok.ID && info.Uses != 2 {
			t.Errorf("good token used %d times, want 2", info.Uses)
		}
		if info.Id == tokenID(t, routerTok) && info.Uses != 0 {
			t.Errorf("a router token refused for its role was used %d times, want 0", info.Uses)
		}
		if strings.Contains(info.String(), goodTok.Secret) {
			t.Errorf("token listing holds the secret")
		}
	}
}

func tokenID(t *testing.T, token string) string {
	t.Helper()
	tok, err := pki.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	return tok.ID
}

// TestAuthorization: who may call what.
func TestAuthorization(t *testing.T) {
	s := startServer(t)
	conns := map[string]clients{}
	for name, creds := range map[string]credentials.TransportCredentials{
		"no cert": credentials.NewTLS(pki.PinnedTLS(s.trust.ca.Hash(), time.Now)),
		"agent":   memberCreds(t, s, pki.Identity{Role: pki.RoleAgent, ID: "node-a"}),
		"router":  memberCreds(t, s, pki.Identity{Role: pki.RoleRouter, ID: "router-1"}),
		"admin":   memberCreds(t, s, pki.Identity{Role: pki.RoleAdmin, ID: "admin"}),
	} {
		conn := dialWith(t, s, creds)
		conns[name] = clients{zakiv1.NewAgentServiceClient(conn), zakiv1.NewTenantServiceClient(conn),
			zakiv1.NewAdminServiceClient(conn)}
	}
	admin := func(c clients) error {
		_, err := c.admin.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{})
		return err
	}
	tenant := func(c clients) error {
		_, err := c.tenant.ListParked(testCtx(t), &zakiv1.ListParkedRequest{})
		return err
	}
	session := func(node string) func(c clients) error {
		return func(c clients) error { return openSession(t, c, node) }
	}
	cases := []struct {
		name, as string
		call     func(clients) error
		code     codes.Code
	}{
		{"no cert, admin", "no cert", admin, codes.Unauthenticated},
		{"no cert, tenant", "no cert", tenant, codes.Unauthenticated},
		{"no cert, agent", "no cert", session("node-a"), codes.Unauthenticated},
		{"agent, admin", "agent", admin, codes.PermissionDenied},
		{"agent, tenant", "agent", tenant, codes.PermissionDenied},
		{"agent, its own node", "agent", session("node-a"), codes.OK},
		{"agent, another node", "agent", session("node-b"), codes.PermissionDenied},
		{"router, tenant", "router", tenant, codes.OK},
		{"router, admin", "router", admin, codes.PermissionDenied},
		{"router, agent", "router", session("node-a"), codes.PermissionDenied},
		{"admin, admin", "admin", admin, codes.OK},
		{"admin, tenant", "admin", tenant, codes.PermissionDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(conns[tc.as]); status.Code(err) != tc.code {
				t.Fatalf("got %v, want %v", err, tc.code)
			}
		})
	}
}

// openSession registers node and returns the first reply's error.
func openSession(t *testing.T, c clients, node string) error {
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	stream, err := c.agent.Session(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Register{
		Register: &zakiv1.Register{ProtocolVersion: 1, Node: testNode(node, 1024)}}}); err != nil &&
		!errors.Is(err, io.EOF) {
		return err
	}
	// Send says only io.EOF when the server has already refused the
	// stream; Recv returns the status.
	_, err = stream.Recv()
	return err
}

func TestRenewAndRevoke(t *testing.T) {
	s := startServer(t)
	id := pki.Identity{Role: pki.RoleAgent, ID: "node-r"}
	b := memberBundle(t, s, id, time.Hour)
	// renew renews b over a NEW connection and returns the new bundle.
	renew := func(b *pki.Bundle) (*pki.Bundle, error) {
		conn := dialWith(t, s, bundleCreds(b))
		key, _ := pki.NewKey()
		csr, _ := pki.NewCSR(key, pki.Identity{Role: pki.RoleAdmin, ID: "asks-for-more"})
		resp, err := zakiv1.NewJoinServiceClient(conn).Renew(testCtx(t), &zakiv1.RenewRequest{CsrDer: csr})
		if err != nil {
			return nil, err
		}
		cert, err := parseCert(resp.CertDer)
		return &pki.Bundle{Key: key, Cert: cert, CA: b.CA}, err
	}
	renewed, err := renew(b)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	if got, _ := renewed.Identity(); got != id || renewed.Cert.SerialNumber.Cmp(b.Cert.SerialNumber) == 0 {
		t.Fatalf("renewed as %v serial %v", got, renewed.Cert.SerialNumber)
	}
	if _, err := renew(renewed); err != nil {
		t.Fatalf("renew with the renewed certificate: %v", err)
	}
	if err := s.revokeNodeCerts(testCtx(t), id.ID); err != nil {
		t.Fatal(err)
	}
	for what, b := range map[string]*pki.Bundle{"original": b, "renewed": renewed} {
		if _, err := renew(b); status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("%s certificate after revocation: %v", what, err)
		}
	}
	other := memberBundle(t, s, pki.Identity{Role: pki.RoleAgent, ID: "node-s"}, time.Hour)
	if _, err := renew(other); err != nil {
		t.Fatalf("another node's certificate: %v", err)
	}
}

// TestRevocationSeenByWatch: a revocation written by another control plane
// reaches this one's set through the watch.
func TestRevocationSeenByWatch(t *testing.T) {
	s := startServer(t)
	if _, err := s.cli.Put(testCtx(t), revokedPrefix+"abc123", "node-x 2030-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watched revocation", func() bool { return s.trust.revoked.has("abc123") })
}

func TestCASurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := func(c *Config) {
		c.DataDir = dir
		c.EtcdClientURL = fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))
		c.EtcdPeerURL = fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))
	}
	first := startStopped(t, cfg)
	if fi, err := os.Stat(filepath.Join(dir, kekFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kek file: %v", err)
	}
	admin, err := pki.ReadBundle(filepath.Join(dir, "admin"))
	if err != nil {
		t.Fatalf("admin credentials: %v", err)
	}
	s := startServer(t, cfg)
	if s.trust.ca.Hash() != first {
		t.Fatal("the CA was made again on restart")
	}
	c := zakiv1.NewAdminServiceClient(dialWith(t, s, bundleCreds(admin)))
	if _, err := c.ListNodes(testCtx(t), &zakiv1.ListNodesRequest{}); err != nil {
		t.Fatalf("the admin credentials of the first start: %v", err)
	}
}

// startStopped starts a control plane, notes its CA hash and stops it.
func startStopped(t *testing.T, mods ...func(*Config)) string {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{GRPCListen: "127.0.0.1:0", unsafeNoFsync: true, profiles: testProfiles}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	hash := s.trust.ca.Hash()
	cancel()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	return hash
}

func TestCAKeyErrors(t *testing.T) {
	dir := t.TempDir()
	ports := func(c *Config) {
		c.DataDir = dir
		c.EtcdClientURL = fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))
		c.EtcdPeerURL = fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))
	}
	startStopped(t, ports)
	wrong := filepath.Join(t.TempDir(), "other-kek")
	if _, _, err := pki.LoadOrCreateKEK(wrong); err != nil {
		t.Fatal(err)
	}
	cfg := Config{GRPCListen: "127.0.0.1:0", unsafeNoFsync: true, CAKeyFile: wrong}
	ports(&cfg)
	_, err := Start(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "decrypt its key") || !strings.Contains(err.Error(), "--ca-key-file") {
		t.Fatalf("wrong kek: %v", err)
	}
	_, _, err = loadKEK(Config{EtcdEndpoints: []string{"http://etcd:2379"}, DataDir: dir})
	if err == nil || !strings.Contains(err.Error(), "--ca-key-file") {
		t.Fatalf("external etcd without a key file: %v", err)
	}
}

// TestStreamEndsWhenCertificateExpires: a handshake checks expiry only when
// a stream opens, so a session outliving its certificate is cut then.
func TestStreamEndsWhenCertificateExpires(t *testing.T) {
	s := startServer(t)
	b := memberBundle(t, s, pki.Identity{Role: pki.RoleAgent, ID: "node-e"}, 3*time.Second)
	conn := dialWith(t, s, bundleCreds(b))
	stream, err := zakiv1.NewAgentServiceClient(conn).Session(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Register{
		Register: &zakiv1.Register{ProtocolVersion: 1, Node: testNode("node-e", 1024)}}}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := stream.Recv()
		if err == nil {
			continue // Welcome, the desired set
		}
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("session ended with %v, want Unauthenticated: expired", err)
		}
		if time.Now().Before(b.Cert.NotAfter) {
			t.Fatalf("session cut at %s, before the certificate expired at %s", time.Now(), b.Cert.NotAfter)
		}
		return
	}
}
