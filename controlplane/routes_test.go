package controlplane

import (
	"strings"
	"testing"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
)

func TestWatchRoutes(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ensureUser(t, c, 1)
	routes := watchRoutes(t, c)
	first := routes.next()
	snap := first.GetSnapshot()
	if len(snap.GetRoutes()) != 1 || snap.Routes[0].TenantId != "1" || first.Revision == 0 ||
		snap.Routes[0].WebhookPath != "/echo-hook" {
		t.Fatalf("snapshot: %v", first)
	}

	ensureUser(t, c, 2)
	up := routes.nextChange()
	if up.GetUpsert().GetTenantId() != "2" || up.Revision <= first.Revision ||
		up.GetUpsert().State != zakiv1.PlacementState_PLACEMENT_STATE_PENDING {
		t.Fatalf("upsert: %v", up)
	}
	if _, err := c.tenant.BindChat(testCtx(t), &zakiv1.BindChatRequest{ChatId: -77, TenantId: "1"}); err != nil {
		t.Fatal(err)
	}
	if up := routes.nextChange().GetUpsert(); up.GetTenantId() != "1" || len(up.ChatIds) != 2 {
		t.Fatalf("upsert after bind: %v", up)
	}

	var last int64
	for i := range 2 {
		p := routes.next()
		if p.GetProgress() == nil || p.Revision < last {
			t.Fatalf("event %d: want progress, got %v", i, p)
		}
		last = p.Revision
	}
}

func TestWatchRoutesUnknownProfile(t *testing.T) {
	s := startServer(t, func(c *Config) { c.DefaultProfile = "mystery" })
	c := dial(t, s)
	ensureUser(t, c, 3)
	snap := watchRoutes(t, c).next().GetSnapshot()
	if r := snap.GetRoutes()[0]; r.WebhookPath != "/telegram-webhook" {
		t.Fatalf("webhook path of an unknown profile: %q", r.WebhookPath)
	}
	if p := tenantStatus(t, c, "3").Placement; !strings.Contains(p.Reason, "unknown assistant profile") {
		t.Fatalf("reason %q", p.Reason)
	}
}

func TestParked(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ensureUser(t, c, 5)
	ctx := testCtx(t)
	park := func(tenant string, id int64, body string) (bool, error) {
		r, err := c.tenant.ParkUpdate(ctx, &zakiv1.ParkUpdateRequest{Update: &zakiv1.ParkedUpdate{
			TenantId: tenant, UpdateId: id, Body: []byte(body)}})
		return r.GetParked(), err
	}
	for _, id := range []int64{30, 1 << 40, 10, 20} {
		if ok, err := park("5", id, `{"update_id":1}`); !ok || err != nil {
			t.Fatalf("park %d: %v %v", id, ok, err)
		}
	}
	if ok, err := park("5", 10, "again"); ok || err != nil {
		t.Fatalf("park a repeat: %v %v", ok, err)
	}
	if _, err := park("404", 1, "x"); status.Code(err) != codes.NotFound {
		t.Fatalf("park for an unknown tenant: %v", err)
	}
	if _, err := park("5", 1, ""); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("park an empty body: %v", err)
	}

	list := func(limit uint32) []int64 {
		r, err := c.tenant.ListParked(ctx, &zakiv1.ListParkedRequest{TenantId: "5", Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, u := range r.Updates {
			ids = append(ids, u.UpdateId)
		}
		return ids
	}
	if got := list(0); !equalIDs(got, 10, 20, 30, 1<<40) {
		t.Fatalf("parked in order: %v", got)
	}
	if got := list(2); !equalIDs(got, 10, 20) {
		t.Fatalf("parked with limit: %v", got)
	}
	tenants, err := c.tenant.ListParked(ctx, &zakiv1.ListParkedRequest{})
	if err != nil || len(tenants.TenantIds) != 1 || tenants.TenantIds[0] != "5" {
		t.Fatalf("tenants with parked updates: %v %v", tenants, err)
	}
	if n := tenantStatus(t, c, "5").ParkedUpdates; n != 4 {
		t.Fatalf("parked count %d", n)
	}
	if _, err := c.tenant.AckParked(ctx, &zakiv1.AckParkedRequest{TenantId: "5", UpdateIds: []int64{10, 30, 99}}); err != nil {
		t.Fatal(err)
	}
	if got := list(0); !equalIDs(got, 20, 1<<40) {
		t.Fatalf("after ack: %v", got)
	}
}

func equalIDs(got []int64, want ...int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestListTenantsHidesSecrets(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	route := ensureUser(t, c, 9).Route
	resp, err := c.admin.ListTenants(testCtx(t), &zakiv1.ListTenantsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	text := prototext.Format(resp)
	for _, secret := range []string{route.WebhookSecret, route.BotApiSecret} {
		if strings.Contains(text, secret) {
			t.Fatal("ListTenants carries a secret")
		}
	}
	ts := resp.Tenants[0]
	if !strings.HasPrefix(ts.WebhookSecretFingerprint, "sha256:") ||
		ts.WebhookSecretFingerprint == ts.BotApiSecretFingerprint {
		t.Fatalf("fingerprints: %q %q", ts.WebhookSecretFingerprint, ts.BotApiSecretFingerprint)
	}
}
