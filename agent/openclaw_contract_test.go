package agent

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/docker/go-connections/nat"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// TestOpenClawContainerContract renders the production profile for one tenant
// the way the agent does and checks the container and openclaw.json against
// the container contract (design §6). The image cannot be pulled here, so
// this is the check that stands in for running it.
func TestOpenClawContainerContract(t *testing.T) {
	p, err := profile.Lookup("openclaw")
	if err != nil {
		t.Fatal(err)
	}
	a := testAssignment("5010000001", 3, 19007)
	a.Profile, a.OwnerUserId, a.ChatIds = "openclaw", 5010000001, []int64{5010000001}
	a.Secrets = &zakiv1.TenantSecrets{WebhookSecret: "wh-secret-1", BotApiSecret: "bot-secret-1", GatewayToken: "gw-token-1"}
	const apiRoot = "http://host.docker.internal:7480"
	env, files, err := p.Render(tenantVars(a, p, apiRoot, ModelKeys{Moonshot: "mk-1"}))
	if err != nil {
		t.Fatal(err)
	}
	s := buildSpec("n1", "10.0.0.5", a, p, env)

	envMap := map[string]string{}
	for _, kv := range s.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	var cfg struct {
		Channels struct {
			Telegram struct {
				APIRoot       string   `json:"apiRoot"`
				WebhookURL    string   `json:"webhookUrl"`
				WebhookSecret string   `json:"webhookSecret"`
				WebhookHost   string   `json:"webhookHost"`
				WebhookPort   int      `json:"webhookPort"`
				WebhookPath   string   `json:"webhookPath"`
				BotToken      string   `json:"botToken"`
				DMPolicy      string   `json:"dmPolicy"`
				AllowFrom     []string `json:"allowFrom"`
			} `json:"telegram"`
		} `json:"channels"`
	}
	if len(files) != 1 || files[0].Path != "openclaw.json" || files[0].Mode != 0o600 {
		t.Fatalf("rendered files = %+v, want one 0600 openclaw.json", files)
	}
	if err := json.Unmarshal(files[0].Data, &cfg); err != nil {
		t.Fatalf("openclaw.json is not JSON: %v", err)
	}
	tg := cfg.Channels.Telegram

	checks := []struct {
		name string
		ok   bool
	}{
		{"pinned image, never latest", strings.HasPrefix(s.Config.Image, "ghcr.io/openclaw/openclaw:") && !strings.HasSuffix(s.Config.Image, ":latest")},
		{"runs as uid 1000", strings.HasPrefix(s.Config.User, "1000")},
		{"webhook port published on the private address", slices.Equal(s.Host.PortBindings[nat.Port("8787/tcp")], []nat.PortBinding{{HostIP: "10.0.0.5", HostPort: "19007"}})},
		{"state volume at /home/node/.openclaw", len(s.Host.Mounts) == 1 && s.Host.Mounts[0].Target == "/home/node/.openclaw"},
		{"readiness on the gateway's /readyz", p.ReadyPort == 18789 && p.ReadyPath == "/readyz"},
		{"heap cap below the memory limit", envMap["NODE_OPTIONS"] == "--max-old-space-size=768" && s.Host.Memory == 1<<30},
		{"pseudo token, shaped like a real one", envMap["TELEGRAM_BOT_TOKEN"] == "123456789:bot-secret-1"},
		{"model key by env", envMap["MOONSHOT_API_KEY"] == "mk-1"},
		{"webhook mode on", tg.WebhookURL != "" && tg.WebhookSecret == "wh-secret-1"},
		{"listener reachable from outside the container", tg.WebhookHost == "0.0.0.0" && tg.WebhookPort == 8787 && tg.WebhookPath == p.WebhookPath},
		{"Bot API through the router's front", tg.APIRoot == apiRoot},
		{"bot token by env reference, not in the file", tg.BotToken == "${TELEGRAM_BOT_TOKEN}" && !strings.Contains(string(files[0].Data), "bot-secret-1")},
		{"direct messages only from the owner", tg.DMPolicy == "allowlist" && slices.Equal(tg.AllowFrom, []string{"5010000001"})},
		{"hardened", slices.Equal(s.Host.CapDrop, []string{"ALL"}) && slices.Equal(s.Host.SecurityOpt, []string{"no-new-privileges"}) && s.Host.PidsLimit != nil},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("openclaw container fails %q\nenv: %v\nopenclaw.json: %s", c.name, s.Config.Env, files[0].Data)
			}
		})
	}
}
