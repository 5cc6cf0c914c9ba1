package profile

import (
	"encoding/json"
	"strings"
	"testing"
)

// openclawJSON is the part of openclaw.json the contract (design §6) checks.
type openclawJSON struct {
	Gateway struct {
		Port int    `json:"port"`
		Bind string `json:"bind"`
		Auth struct {
			Mode  string `json:"mode"`
			Token string `json:"token"`
		} `json:"auth"`
	} `json:"gateway"`
	Agents struct {
		Defaults struct {
			Model struct {
				Primary string `json:"primary"`
			} `json:"model"`
		} `json:"defaults"`
	} `json:"agents"`
	Channels struct {
		Telegram struct {
			Enabled       bool                       `json:"enabled"`
			BotToken      string                     `json:"botToken"`
			APIRoot       string                     `json:"apiRoot"`
			WebhookURL    string                     `json:"webhookUrl"`
			WebhookSecret string                     `json:"webhookSecret"`
			WebhookPath   string                     `json:"webhookPath"`
			WebhookHost   string                     `json:"webhookHost"`
			WebhookPort   int                        `json:"webhookPort"`
			DMPolicy      string                     `json:"dmPolicy"`
			AllowFrom     []string                   `json:"allowFrom"`
			Groups        map[string]json.RawMessage `json:"groups"`
		} `json:"telegram"`
	} `json:"channels"`
}

func renderOpenClaw(t *testing.T, v Vars) (Profile, map[string]string, openclawJSON, RenderedFile) {
	t.Helper()
	p, err := Lookup("openclaw")
	if err != nil {
		t.Fatal(err)
	}
	env, files, err := p.Render(v)
	if err != nil {
		t.Fatal(err)
	}
	envMap := map[string]string{}
	for _, kv := range env {
		k, val, _ := strings.Cut(kv, "=")
		envMap[k] = val
	}
	if len(files) != 1 || files[0].Path != "openclaw.json" {
		t.Fatalf("files = %v, want one openclaw.json", files)
	}
	var cfg openclawJSON
	if err := json.Unmarshal(files[0].Data, &cfg); err != nil {
		t.Fatalf("openclaw.json does not parse: %v\n%s", err, files[0].Data)
	}
	return p, envMap, cfg, files[0]
}

func TestOpenClawContract(t *testing.T) {
	v := fullVars()
	p, env, cfg, file := renderOpenClaw(t, v)
	tg := cfg.Channels.Telegram

	checks := []struct {
		name      string
		got, want any
	}{
		{"image pinned", p.Image, "ghcr.io/openclaw/openclaw:2026.2.26"},
		{"uid", p.User, "1000:1000"},
		{"file mode", file.Mode.Perm().String(), "-rw-------"},
		{"volume is the state dir", p.VolumePath, "/home/node/.openclaw"},
		{"state dir env", env["OPENCLAW_STATE_DIR"], p.VolumePath},
		{"ready port", p.ReadyPort, 18789},
		{"ready path", p.ReadyPath, "/readyz"},
		{"health path", p.HealthPath, "/healthz"},
		{"gateway port", cfg.Gateway.Port, p.ReadyPort},
		{"gateway bind", cfg.Gateway.Bind, "lan"},
		{"gateway auth by env", cfg.Gateway.Auth.Token, "${OPENCLAW_GATEWAY_TOKEN}"},
		{"telegram enabled", tg.Enabled, true},
		{"webhook secret", tg.WebhookSecret, v.WebhookSecret},
		{"api root", tg.APIRoot, v.APIRoot},
		{"listener host", tg.WebhookHost, "0.0.0.0"},
		{"listener port", tg.WebhookPort, p.WebhookPort},
		{"listener path", tg.WebhookPath, p.WebhookPath},
		{"profile webhook port", p.WebhookPort, 8787},
		{"profile webhook path", p.WebhookPath, "/telegram-webhook"},
		{"dm policy", tg.DMPolicy, "allowlist"},
		{"allowlist is the owner", strings.Join(tg.AllowFrom, ","), "4611686018427387904"},
		{"bot token by env reference", tg.BotToken, "${TELEGRAM_BOT_TOKEN}"},
		{"bot token env", env["TELEGRAM_BOT_TOKEN"], v.BotToken},
		{"gateway token env", env["OPENCLAW_GATEWAY_TOKEN"], v.GatewayToken},
		{"heap cap", env["NODE_OPTIONS"], "--max-old-space-size=768"},
		{"free tier model", cfg.Agents.Defaults.Model.Primary, "moonshot/kimi-k2.5"},
		{"moonshot key", env["MOONSHOT_API_KEY"], v.MoonshotAPIKey},
		{"memory", p.MemoryBytes, int64(1 << 30)},
		{"cpus", p.NanoCPUs, int64(1e9)},
		{"pids", p.PidsLimit, int64(512)},
		{"ready timeout", p.ReadyTimeout.String(), "2m0s"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if tg.WebhookURL == "" || tg.WebhookSecret == "" {
		t.Error("webhook mode needs webhookUrl and a non-empty webhookSecret")
	}
	if v.HeapMiB<<20 >= p.MemoryBytes {
		t.Errorf("heap cap %d MiB is not below the memory limit", v.HeapMiB)
	}
	if _, ok := tg.Groups["-1001234567890"]; !ok || len(tg.Groups) != 1 {
		t.Errorf("groups = %v, want only the group chat", tg.Groups)
	}
	if strings.Contains(string(file.Data), v.BotToken) || strings.Contains(string(file.Data), v.GatewayToken) {
		t.Error("openclaw.json holds a token that should stay in the env")
	}
}

func TestOpenClawTiers(t *testing.T) {
	tests := []struct{ tier, model string }{
		{"free", "moonshot/kimi-k2.5"},
		{"pro", "anthropic/claude-sonnet-4-6"},
	}
	for _, tt := range tests {
		t.Run(tt.tier, func(t *testing.T) {
			v := fullVars()
			v.Tier = tt.tier
			_, _, cfg, _ := renderOpenClaw(t, v)
			if got := cfg.Agents.Defaults.Model.Primary; got != tt.model {
				t.Fatalf("model = %q, want %q", got, tt.model)
			}
		})
	}
}

func TestOpenClawUnsetModelKeysStayUnset(t *testing.T) {
	v := fullVars()
	v.MoonshotAPIKey, v.AnthropicAPIKey, v.ChatIDs = "", "", nil
	_, env, cfg, _ := renderOpenClaw(t, v)
	for _, k := range []string{"MOONSHOT_API_KEY", "ANTHROPIC_API_KEY"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s is set though empty", k)
		}
	}
	if len(cfg.Channels.Telegram.Groups) != 0 {
		t.Errorf("groups = %v, want none", cfg.Channels.Telegram.Groups)
	}
}
