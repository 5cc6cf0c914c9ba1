package router

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/zaki-platform/zaki/router/update"
)

// TestInvalidIDsAnsweredAndCounted: an update with an id Telegram never
// sends is answered 200 and counted, and never reaches the control plane,
// which would refuse it on every one of Telegram's retries.
func TestInvalidIDsAnsweredAndCounted(t *testing.T) {
	h := newHarness(t)
	tests := []struct{ name, body string }{
		{"private chat with negative id", `{"update_id":9000000000040,"message":{"message_id":1,"date":1,` +
			`"chat":{"id":-77,"type":"private"},"from":{"id":77,"is_bot":false,"first_name":"A"},"text":"hi"}}`},
		{"negative user", `{"update_id":9000000000041,"inline_query":{"id":"q","from":{"id":-5,"is_bot":false,"first_name":"A"},"query":"x","offset":""}}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.post(tt.body, h.secret); got != http.StatusOK {
				t.Errorf("status %d, want 200", got)
			}
			if n := h.counter(h.r.m.unroutable.WithLabelValues(update.ReasonInvalid)); n != float64(i+1) {
				t.Errorf("unroutable{invalid} = %v, want %d", n, i+1)
			}
		})
	}
	if _, ensures := h.cp.counts(); ensures != 0 {
		t.Errorf("the control plane was asked %d times about invalid ids", ensures)
	}
}

// TestControlPlaneVerdictsAreUnroutable: when the control plane says an
// update can have no tenant, the update is answered 200 and counted; only a
// control plane that could not answer makes Telegram retry (503).
func TestControlPlaneVerdictsAreUnroutable(t *testing.T) {
	h := newHarness(t)
	userTenant(h, nil, bigUser) // the old group's owner
	groupTenant(h, -4000000001, bigUser)
	newUser := privateUpdate(9000000000050, bigUser+7, "hi")
	migrate := `{"update_id":9000000000051,"message":{"message_id":1,"date":1,` +
		`"chat":{"id":-4000000001,"type":"group"},"migrate_to_chat_id":-1009000000001}}`
	tests := []struct {
		name, body   string
		ensure, bind codes.Code
		want         int
		reason       string
	}{
		{"ensure: invalid argument", newUser, codes.InvalidArgument, codes.OK, 200, update.ReasonInvalid},
		{"ensure: not found", newUser, codes.NotFound, codes.OK, 200, reasonNoTenant},
		{"ensure: failed precondition", newUser, codes.FailedPrecondition, codes.OK, 200, reasonNoTenant},
		{"ensure: unavailable", newUser, codes.Unavailable, codes.OK, 503, ""},
		{"ensure: deadline exceeded", newUser, codes.DeadlineExceeded, codes.OK, 503, ""},
		{"ensure: internal", newUser, codes.Internal, codes.OK, 503, ""},
		{"bind: invalid argument", migrate, codes.OK, codes.InvalidArgument, 200, update.ReasonInvalid},
		{"bind: tenant gone", migrate, codes.OK, codes.NotFound, 200, reasonNoTenant},
		{"bind: chat bound elsewhere", migrate, codes.OK, codes.AlreadyExists, 200, reasonBindConflict},
		{"bind: unavailable", migrate, codes.OK, codes.Unavailable, 503, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.cp.failWith(status.Error(tt.ensure, "test"), status.Error(tt.bind, "test"))
			var before float64
			if tt.reason != "" {
				before = h.counter(h.r.m.unroutable.WithLabelValues(tt.reason))
			}
			if got := h.post(tt.body, h.secret); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
			if tt.reason == "" {
				return
			}
			if n := h.counter(h.r.m.unroutable.WithLabelValues(tt.reason)) - before; n != 1 {
				t.Errorf("unroutable{%s} grew by %v, want 1", tt.reason, n)
			}
		})
	}
}

// TestStartRefusesBadWebhookSecret: Telegram accepts 1-256 characters of
// A-Z a-z 0-9 _ -; anything else fails Start, and the error never shows the
// secret.
func TestStartRefusesBadWebhookSecret(t *testing.T) {
	tests := []struct{ name, secret string }{
		{"empty", ""},
		{"too long", strings.Repeat("a", 257)},
		{"space", "hunter2 hunter2"},
		{"colon", "abc:def"},
		{"non-ascii", "geheimnis-ü"},
		{"newline", "abc\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Listen: "127.0.0.1:0", FrontListen: "127.0.0.1:0", BotToken: testBotToken, WebhookSecret: tt.secret}
			r, err := Start(context.Background(), cfg)
			if err == nil {
				r.closeListeners()
				t.Fatalf("Start accepted the secret %q", tt.secret)
			}
			if !strings.Contains(err.Error(), "webhook secret") {
				t.Errorf("error %q does not say what is wrong", err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.secret)) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
	for _, ok := range []string{"a", strings.Repeat("Z", 256), "A-z_0-9", "MFRGGZDFMZTWQ2LKNNWG23TPOA"} {
		if err := checkWebhookSecret(ok); err != nil {
			t.Errorf("checkWebhookSecret(%q) = %v, want nil", ok, err)
		}
	}
}

// TestDrainStallLoggedOnce: a drain that cannot deliver says so once at Warn
// and once at Info when it recovers, however many times it retried.
func TestDrainStallLoggedOnce(t *testing.T) {
	h := newHarness(t)
	box := newRecorder(t, http.StatusServiceUnavailable, "")
	route := userTenant(h, box, bigUser)
	if got := h.post(privateUpdate(9000000000060, bigUser, "x"), h.secret); got != http.StatusOK {
		t.Fatalf("status %d, want 200 once parked", got)
	}
	h.eventually("several failed drain passes", func() bool { return box.arrivedCount() >= 4 })
	logs := h.logs.String()
	if n := strings.Count(logs, "[WARN]  drain stalled"); n != 1 {
		t.Fatalf("drain stalled logged %d times at Warn, want 1:\n%s", n, logs)
	}
	for _, want := range []string{"tenant=" + route.TenantId, "parked=1", "error=", "container answered 503"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the stall line lacks %q", want)
		}
	}
	box.setStatus(http.StatusOK)
	h.eventually("drained", func() bool { return len(h.cp.parkedIDs(route.TenantId)) == 0 })
	h.eventually("drainer finished", func() bool {
		q := h.r.delivery.queue(route.TenantId)
		q.mu.Lock()
		defer q.mu.Unlock()
		return !q.draining
	})
	logs = h.logs.String()
	if n := strings.Count(logs, "[INFO]  drain recovered"); n != 1 {
		t.Errorf("drain recovered logged %d times at Info, want 1", n)
	}
	if n := strings.Count(logs, "[WARN]  drain stalled"); n != 1 {
		t.Errorf("drain stalled logged %d times at Warn in all, want 1", n)
	}
}
