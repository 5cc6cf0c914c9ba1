package router

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/samples"
	"github.com/zaki-platform/zaki/router/update"
)

const bigUser = 5000000000001 // above 2^32

func privateUpdate(updateID, user int64, text string) string {
	u, id := strconv.FormatInt(user, 10), strconv.FormatInt(updateID, 10)
	return `{"update_id":` + id + `,"message":{"message_id":1,"date":1,"from":{"id":` + u +
		`,"is_bot":false,"first_name":"A"},"chat":{"id":` + u + `,"type":"private"},"text":"` + text + `"}}`
}

// userTenant registers a RUNNING tenant for a private chat at container rec.
func userTenant(h *harness, rec *recorder, user int64) *zakiv1.Route {
	id := strconv.FormatInt(user, 10)
	r := tenantRoute(id, zakiv1.TenantKind_TENANT_KIND_USER, user)
	r.OwnerUserId = user
	if rec != nil {
		rec.place(r)
	}
	h.cp.setRoute(r)
	h.eventually("route cached", func() bool { return h.r.cache.tenant(id) != nil })
	return r
}

func TestWebhookRejects(t *testing.T) {
	h := newHarness(t)
	box := newRecorder(t, http.StatusOK, "")
	userTenant(h, box, bigUser)
	good := privateUpdate(9000000000001, bigUser, "hi")
	tests := []struct {
		name, body, secret string
		want               int
		reason             string
	}{
		{"wrong secret", good, "not-the-secret", http.StatusUnauthorized, "secret"},
		{"missing secret", good, "", http.StatusUnauthorized, "secret"},
		{"malformed json", `{"update_id":`, h.secret, http.StatusBadRequest, "malformed"},
		{"no update_id", `{"message":{}}`, h.secret, http.StatusBadRequest, "malformed"},
		{"too large", `{"update_id":1,"pad":"` + strings.Repeat("x", 2<<20) + `"}`, h.secret,
			http.StatusRequestEntityTooLarge, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.counter(h.r.m.rejected.WithLabelValues(tt.reason))
			if got := h.post(tt.body, tt.secret); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
			if got := h.counter(h.r.m.rejected.WithLabelValues(tt.reason)) - before; got != 1 {
				t.Errorf("rejected{%s} grew by %v, want 1", tt.reason, got)
			}
		})
	}
	if n := len(box.got()); n != 0 {
		t.Errorf("container got %d requests from rejected updates", n)
	}
	if ids := h.cp.parkedIDs("5000000000001"); len(ids) != 0 {
		t.Errorf("rejected updates were parked: %v", ids)
	}

	t.Run("unknown type", func(t *testing.T) {
		if got := h.post(`{"update_id":9000000000002,"brand_new":{"chat":{"id":1}}}`, h.secret); got != http.StatusOK {
			t.Errorf("status %d, want 200", got)
		}
		if got := h.counter(h.r.m.unknownType); got != 1 {
			t.Errorf("unknown type counter %v, want 1", got)
		}
		if n := len(box.got()); n != 0 {
			t.Errorf("unknown update reached a container")
		}
	})
}

func TestForwardByteForByte(t *testing.T) {
	h := newHarness(t)
	box := newRecorder(t, http.StatusOK, "")
	route := userTenant(h, box, bigUser)
	// Unknown fields, odd spacing and ids above 2^53 must all survive.
	body := `{ "update_id" : 9000000000001, "message":{"message_id":1,"date":1,` +
		`"chat":{"id":5000000000001,"type":"private"},"from":{"id":5000000000001,"is_bot":false,"first_name":"A"},` +
		`"text":"hi","future_field":{"n":12345678901234567890,"x":[1.50,"ü"]}}}`
	if got := h.post(body, h.secret); got != http.StatusOK {
		t.Fatalf("status %d, want 200", got)
	}
	reqs := box.got()
	if len(reqs) != 1 {
		t.Fatalf("container got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if !bytes.Equal(r.Body, []byte(body)) {
		t.Errorf("body changed:\n got %s\nwant %s", r.Body, body)
	}
	if r.Secret != route.WebhookSecret {
		t.Errorf("container saw secret %q, want the tenant's", r.Secret)
	}
	if r.ContentType != "application/json" || r.Path != "/telegram-webhook" {
		t.Errorf("content type %q path %q", r.ContentType, r.Path)
	}
	if got := h.counter(h.r.m.forwarded); got != 1 {
		t.Errorf("forwarded %v, want 1", got)
	}
}

func TestParkThenDrainInOrder(t *testing.T) {
	h := newHarness(t)
	box := newRecorder(t, http.StatusOK, "")
	route := userTenant(h, nil, bigUser) // PENDING: no container yet
	ids := []int64{9000000000003, 9000000000004, 9000000000005}
	for _, id := range ids {
		if got := h.post(privateUpdate(id, bigUser, "m"), h.secret); got != http.StatusOK {
			t.Fatalf("status %d, want 200 once parked", got)
		}
	}
	if got := h.cp.parkedIDs(route.TenantId); !slices.Equal(got, ids) {
		t.Fatalf("parked %v, want %v", got, ids)
	}
	if len(box.got()) != 0 {
		t.Fatal("a pending tenant's container was called")
	}

	h.cp.setRoute(box.place(route)) // the container is ready
	h.eventually("parked updates delivered", func() bool { return len(box.got()) == len(ids) })
	for i, r := range box.got() {
		if want := privateUpdate(ids[i], bigUser, "m"); string(r.Body) != want {
			t.Errorf("delivery %d: got %s, want %s", i, r.Body, want)
		}
	}
	h.eventually("parked updates acknowledged", func() bool { return len(h.cp.parkedIDs(route.TenantId)) == 0 })
	h.eventually("backlog cleared", func() bool {
		q := h.r.delivery.queue(route.TenantId)
		q.mu.Lock()
		defer q.mu.Unlock()
		return !q.backlog
	})
	if got := h.post(privateUpdate(9000000000006, bigUser, "direct"), h.secret); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	if n := len(box.got()); n != 4 {
		t.Errorf("a direct update after the drain: container has %d, want 4", n)
	}
}

func TestFailedForwardParks(t *testing.T) {
	h := newHarness(t)
	box := newRecorder(t, http.StatusInternalServerError, "")
	route := userTenant(h, box, bigUser)
	if got := h.post(privateUpdate(9000000000010, bigUser, "x"), h.secret); got != http.StatusOK {
		t.Fatalf("status %d, want 200 after parking", got)
	}
	if got := h.cp.parkedIDs(route.TenantId); len(got) != 1 {
		t.Fatalf("parked %v, want the update", got)
	}
	box.setStatus(http.StatusOK)
	h.eventually("drained after recovery", func() bool { return len(h.cp.parkedIDs(route.TenantId)) == 0 })
}

func TestParkedBeforeStartDrains(t *testing.T) {
	box := newRecorder(t, http.StatusOK, "")
	route := box.place(tenantRoute("5000000000001", zakiv1.TenantKind_TENANT_KIND_USER, bigUser))
	h := newHarness(t, func(_ *Config, cp *fakeCP) {
		cp.routes[route.TenantId] = route
		cp.parked[route.TenantId] = map[int64][]byte{
			9000000000021: []byte(privateUpdate(9000000000021, bigUser, "a")),
			9000000000020: []byte(privateUpdate(9000000000020, bigUser, "b")),
		}
	})
	h.eventually("old backlog delivered", func() bool { return len(box.got()) == 2 })
	if got := box.got(); !strings.Contains(string(got[0].Body), "9000000000020") {
		t.Errorf("first delivered %s, want update 9000000000020", got[0].Body)
	}
}

func TestDeadTenantDoesNotDelayAnother(t *testing.T) {
	h := newHarness(t)
	dead, alive := newRecorder(t, http.StatusOK, ""), newRecorder(t, http.StatusOK, "")
	release := make(chan struct{})
	dead.hold = release
	t.Cleanup(func() { close(release) })
	userTenant(h, dead, bigUser)
	userTenant(h, alive, bigUser+1)

	deadDone := make(chan int, 1)
	go func() { deadDone <- h.post(privateUpdate(9000000000030, bigUser, "x"), h.secret) }()
	h.eventually("dead tenant's forward in flight", func() bool {
		return dead.arrivedCount() > 0
	})
	if got := h.post(privateUpdate(9000000000031, bigUser+1, "y"), h.secret); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	if len(alive.got()) != 1 {
		t.Fatal("the live tenant's update did not arrive while the dead one hung")
	}
	select {
	case <-deadDone:
		t.Fatal("the dead tenant's request finished early")
	default:
	}
}

// TestSamplesRouteToExpectedTenants plays the shared sample conversation
// through the webhook against a control plane that creates tenants on
// demand, and checks each update reaches exactly its expected tenant.
func TestSamplesRouteToExpectedTenants(t *testing.T) {
	box := newRecorder(t, http.StatusOK, "")
	h := newHarness(t, func(_ *Config, cp *fakeCP) {
		cp.newRoute = func(r *zakiv1.Route) {
			box.place(r)
			r.WebhookPath = "/t/" + r.TenantId
		}
	})
	for _, b := range samples.Updates() {
		if got := h.post(string(b), h.secret); got != http.StatusOK {
			t.Fatalf("status %d for %s", got, b)
		}
	}
	got := map[int64]string{}
	for _, r := range box.got() {
		d, err := update.Parse(r.Body)
		if err != nil {
			t.Fatalf("container got a body that does not parse: %v", err)
		}
		id := d.UpdateID
		if _, dup := got[id]; dup {
			t.Errorf("update %d delivered twice", id)
		}
		got[id] = strings.TrimPrefix(r.Path, "/t/")
	}
	for id, want := range samples.ExpectedTenant {
		if got[id] != want {
			t.Errorf("update %d went to %q, want %q", id, got[id], want)
		}
	}
	if n := h.counter(h.r.m.unroutable.WithLabelValues(reasonNoTenant)); n != 1 {
		t.Errorf("unroutable{no_tenant} = %v, want 1", n)
	}
}
