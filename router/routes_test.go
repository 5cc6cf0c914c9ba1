package router

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRouteCacheRelists(t *testing.T) {
	h := newHarness(t)
	route := userTenant(h, nil, bigUser)

	t.Run("after a stream error", func(t *testing.T) {
		watches, _ := h.cp.counts()
		h.cp.breakStreams()
		h.eventually("re-list", func() bool { n, _ := h.cp.counts(); return n > watches })
		h.eventually("ready again", func() bool { return h.r.Ready() == nil })
		if h.r.cache.tenant(route.TenantId) == nil {
			t.Error("the re-listed cache lost the tenant")
		}
	})

	t.Run("after silence", func(t *testing.T) {
		watches, _ := h.cp.counts()
		h.cp.setSilent(true)
		h.cp.breakStreams() // the next stream is the silent one
		h.eventually("stale", func() bool { return h.r.Ready() != nil })
		h.eventually("silent stream torn down", func() bool { n, _ := h.cp.counts(); return n > watches+1 })
		h.cp.setSilent(false)
		h.eventually("ready again", func() bool { return h.r.Ready() == nil })
	})

	t.Run("changes while away are picked up", func(t *testing.T) {
		h.cp.setDown(true)
		h.cp.breakStreams()
		h.eventually("stale", func() bool { return h.r.Ready() != nil })
		moved := cloneRoute(route)
		moved.Generation = 7
		h.cp.setRoute(moved) // no stream is open to carry it
		h.cp.setDown(false)
		h.eventually("the move arrives with the next snapshot", func() bool {
			r := h.r.cache.tenant(route.TenantId)
			return h.r.Ready() == nil && r != nil && r.Generation == 7
		})
	})
}

func TestStaleCacheParks(t *testing.T) {
	h := newHarness(t)
	box := newRecorder(t, http.StatusOK, "")
	route := userTenant(h, box, bigUser)
	h.cp.setDown(true)
	h.cp.breakStreams()
	h.eventually("stale", func() bool { return h.r.Ready() != nil })
	if got := h.post(privateUpdate(9000000000040, bigUser, "x"), h.secret); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	if len(box.got()) != 0 {
		t.Fatal("forwarded from a stale cache")
	}
	h.cp.setDown(false)
	h.eventually("delivered once fresh", func() bool { return len(box.got()) == 1 })
	h.eventually("acknowledged", func() bool { return len(h.cp.parkedIDs(route.TenantId)) == 0 })
}

// TestUnreachableControlPlaneFailsClosed: with the control plane cut off
// (no routes, no parking), an update is answered 503 and held nowhere, so
// Telegram keeps it and retries; the retry lands once it is back.
func TestUnreachableControlPlaneFailsClosed(t *testing.T) {
	h := newHarness(t)
	box := newRecorder(t, http.StatusOK, "")
	userTenant(h, box, bigUser)
	h.cp.setDown(true)
	h.cp.mu.Lock()
	h.cp.parkErr = status.Error(codes.Unavailable, "control plane unreachable")
	h.cp.mu.Unlock()
	h.cp.breakStreams()
	h.eventually("stale", func() bool { return h.r.Ready() != nil })
	u := privateUpdate(9000000000041, bigUser, "x")
	if got := h.post(u, h.secret); got != http.StatusServiceUnavailable {
		t.Fatalf("status %d with the control plane cut off, want 503", got)
	}
	if len(box.got()) != 0 {
		t.Fatal("forwarded from a stale cache")
	}
	h.cp.setDown(false)
	h.cp.mu.Lock()
	h.cp.parkErr = nil
	h.cp.mu.Unlock()
	h.eventually("fresh again", func() bool { return h.r.Ready() == nil })
	if got := h.post(u, h.secret); got != http.StatusOK { // Telegram's retry
		t.Fatalf("the retry got %d", got)
	}
	h.eventually("delivered once", func() bool { return len(box.got()) == 1 })
}

func TestStartErrors(t *testing.T) {
	const tokenSecret = "super-secret-part"
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"no colon", "6100000001" + tokenSecret},
		{"no id", "abc:" + tokenSecret},
		{"no secret", "6100000001:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(context.Background(), Config{BotToken: tt.token, WebhookSecret: "s",
				Listen: "127.0.0.1:0", FrontListen: "127.0.0.1:0"})
			if err == nil {
				t.Fatal("Start accepted a malformed token")
			}
			if strings.Contains(err.Error(), tokenSecret) {
				t.Errorf("the error echoes the token: %v", err)
			}
		})
	}
}

func TestSetBotRefused(t *testing.T) {
	cp := startFakeCP(t, 50*time.Millisecond)
	cp.bot = 42
	_, err := Start(context.Background(), Config{BotToken: testBotToken, WebhookSecret: "s",
		Listen: "127.0.0.1:0", FrontListen: "127.0.0.1:0", ControlPlane: cp.addr})
	if err == nil || strings.Contains(err.Error(), testBotToken) {
		t.Fatalf("err = %v, want a refusal without the token", err)
	}
}

func TestGroupNeverCreatedByMessage(t *testing.T) {
	h := newHarness(t)
	body := `{"update_id":9000000000050,"message":{"message_id":1,"date":1,"chat":{"id":-1009000000001,"type":"supergroup"},"text":"hi"}}`
	if got := h.post(body, h.secret); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	if n := h.counter(h.r.m.unroutable.WithLabelValues(reasonNoTenant)); n != 1 {
		t.Errorf("unroutable = %v, want 1", n)
	}
	h.cp.mu.Lock()
	defer h.cp.mu.Unlock()
	if len(h.cp.routes) != 0 {
		t.Errorf("a group message created a tenant")
	}
}
