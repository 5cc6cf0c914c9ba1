package agent

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/secret"
	"github.com/zaki-platform/zaki/profile"
)

// testProfile is a small profile whose readiness port is readyPort.
func testProfile(readyPort int) profile.Profile {
	return profile.Profile{
		Name:         "test",
		Image:        "zaki-test:v1",
		User:         "1000:1000",
		WebhookPort:  8787,
		WebhookPath:  "/telegram-webhook",
		HealthPort:   readyPort,
		HealthPath:   "/healthz",
		ReadyPort:    readyPort,
		ReadyPath:    "/readyz",
		ReadyTimeout: profile.Duration(2 * time.Second),
		VolumePath:   "/data",
		Env: map[string]string{
			"BOT_TOKEN":      "{{.BotToken}}",
			"WEBHOOK_SECRET": "{{.WebhookSecret}}",
			"API_ROOT":       "{{.APIRoot}}",
		},
		Files:       []profile.File{{Path: "conf/tenant.json", Template: `{"tenant": {{json .TenantID}}}`}},
		MemoryBytes: 256 << 20,
		NanoCPUs:    500_000_000,
		PidsLimit:   128,
	}
}

// testAssignment assigns tenant at generation gen on port.
func testAssignment(tenant string, gen uint64, port uint32) *zakiv1.Assignment {
	return &zakiv1.Assignment{
		TenantId:    tenant,
		Generation:  gen,
		Profile:     "test",
		HostPort:    port,
		Kind:        zakiv1.TenantKind_TENANT_KIND_USER,
		OwnerUserId: 4_503_599_627_370_497, // above 2^52: ids must stay exact
		ChatIds:     []int64{4_503_599_627_370_497},
		Tier:        "free",
		Secrets:     &zakiv1.TenantSecrets{WebhookSecret: secret.New(), BotApiSecret: secret.New()},
		BotId:       123456789,
	}
}

// readyServer answers the readiness path with whatever status() says.
func readyServer(t *testing.T, status func() int) int {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status())
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return p
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
