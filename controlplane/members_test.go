package controlplane

import (
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestMembers: joined members are listed with their roles; revoking one
// cuts off its next connection at once and leaves the others working.
func TestMembers(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	router, err := join(t, s, newToken(t, c, zakiv1.Role_ROLE_ROUTER, time.Hour), "")
	if err != nil {
		t.Fatalf("router join: %v", err)
	}
	routerID, _ := router.Identity()
	agent, err := join(t, s, newToken(t, c, zakiv1.Role_ROLE_AGENT, time.Hour), "node-m")
	if err != nil {
		t.Fatalf("agent join: %v", err)
	}
	operator := pki.Identity{Role: pki.RoleAdmin, ID: "admin-op"}
	admin := zakiv1.NewAdminServiceClient(dialWith(t, s, memberCreds(t, s, operator)))

	got := listMembers(t, admin)
	for id, want := range map[string]zakiv1.Role{routerID.ID: zakiv1.Role_ROLE_ROUTER,
		"node-m": zakiv1.Role_ROLE_AGENT, "admin-op": zakiv1.Role_ROLE_ADMIN} {
		if m := got[id]; m == nil || m.Role != want || m.Certificates != 1 || !m.ExpiresAt.AsTime().After(time.Now()) {
			t.Errorf("member %s: %v, want role %v, 1 live certificate", id, m, want)
		}
	}

	watch, err := zakiv1.NewTenantServiceClient(dialWith(t, s, bundleCreds(router))).
		WatchRoutes(testCtx(t), &zakiv1.WatchRoutesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatalf("the router's route watch: %v", err)
	}

	resp, err := admin.RevokeMember(testCtx(t), &zakiv1.RevokeMemberRequest{Id: routerID.ID})
	if err != nil || resp.Revoked != 1 {
		t.Fatalf("revoke the router: %v %v", resp, err)
	}
	tenant := zakiv1.NewTenantServiceClient(dialWith(t, s, bundleCreds(router)))
	_, err = tenant.ListParked(testCtx(t), &zakiv1.ListParkedRequest{})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the revoked router's new connection: %v", err)
	}
	// The stream it opened before ends too; progress messages may come
	// first, so read a bounded number of them.
	for range 1000 {
		if _, err = watch.Recv(); err != nil {
			break
		}
	}
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the revoked router's open route watch: %v", err)
	}
	agentConn := dialWith(t, s, bundleCreds(agent))
	if err := openSession(t, clients{agent: zakiv1.NewAgentServiceClient(agentConn)}, "node-m"); err != nil {
		t.Fatalf("the agent after the router's revocation: %v", err)
	}
	if _, ok := listMembers(t, admin)[routerID.ID]; ok {
		t.Errorf("the revoked router is still listed")
	}

	cases := []struct {
		name, id string
		code     codes.Code
		want     string
	}{
		{"unknown id", "router-00000000", codes.NotFound, "holds no certificate"},
		{"already revoked", routerID.ID, codes.NotFound, "holds no certificate"},
		{"itself", "admin-op", codes.FailedPrecondition, "identity making this call"},
		{"empty id", "", codes.InvalidArgument, "member id is required"},
		{"id with a slash", "node-m/x", codes.InvalidArgument, "member id is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admin.RevokeMember(testCtx(t), &zakiv1.RevokeMemberRequest{Id: tc.id})
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("revoke %q: %v, want %v with %q", tc.id, err, tc.code, tc.want)
			}
		})
	}
	if _, ok := listMembers(t, admin)["admin-op"]; !ok {
		t.Errorf("the refused self-revocation revoked the caller anyway")
	}
}

// TestMembersIssuedRecords: old records (not-after alone) are still read,
// expired certificates are not live, and renewals count per holder.
func TestMembersIssuedRecords(t *testing.T) {
	s := startServer(t)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for k, v := range map[string]string{
		issuedKey("legacy-a", "0a"):  future,
		issuedKey("legacy-b", "0b"):  past,
		issuedKey("router-x", "1a"):  "router " + future,
		issuedKey("router-x", "1b"):  "router " + past,
		issuedKey("router-x", "1c"):  future,
		issuedKey("expired-r", "2a"): "router " + past,
	} {
		if _, err := s.cli.Put(testCtx(t), k, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListMembers(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*zakiv1.Member{}
	for _, m := range got {
		byID[m.Id] = m
	}
	cases := []struct {
		id    string
		role  zakiv1.Role
		certs uint32 // 0: not listed
	}{
		{"legacy-a", zakiv1.Role_ROLE_UNSPECIFIED, 1},
		{"legacy-b", 0, 0},
		{"router-x", zakiv1.Role_ROLE_ROUTER, 2},
		{"expired-r", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			m := byID[tc.id]
			if tc.certs == 0 {
				if m != nil {
					t.Fatalf("listed with no live certificate: %v", m)
				}
				return
			}
			if m == nil || m.Role != tc.role || m.Certificates != tc.certs {
				t.Fatalf("got %v, want role %v with %d certificates", m, tc.role, tc.certs)
			}
		})
	}
	n, err := s.RevokeMember(testCtx(t), superuser, "legacy-a")
	if err != nil || n != 1 {
		t.Fatalf("revoke an old-format member: %d %v", n, err)
	}
	if !s.trust.revoked.has("0a") {
		t.Fatal("the old-format certificate is not revoked")
	}
	if err := s.checkNodeFree(testCtx(t), "legacy-b"); err != nil {
		t.Fatalf("an id whose only certificate expired: %v", err)
	}
}

func listMembers(t *testing.T, admin zakiv1.AdminServiceClient) map[string]*zakiv1.Member {
	t.Helper()
	resp, err := admin.ListMembers(testCtx(t), &zakiv1.ListMembersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*zakiv1.Member{}
	for _, m := range resp.Members {
		out[m.Id] = m
	}
	return out
}
