package profile

// The openclaw profile: the production assistant, OpenClaw's gateway with its
// Telegram channel in webhook mode.
//
// From OpenClaw's own docs (repository openclaw/openclaw, read 2026-12):
//   - docs/channels/telegram.md ("Long polling vs webhook", "Access control",
//     "Configuration reference"): webhook mode is switched on by
//     channels.telegram.webhookUrl and needs webhookSecret; webhookPath,
//     webhookHost, webhookPort default to /telegram-webhook, 127.0.0.1, 8787;
//     the listener must be told webhookHost "0.0.0.0" to be reachable from
//     outside; it checks the secret token and the JSON body before answering
//     200. apiRoot is the Bot API root only (no /bot<TOKEN>). dmPolicy
//     "allowlist" needs numeric user ids in allowFrom; groups are allowed by
//     chat id under channels.telegram.groups; configWrites:false stops
//     Telegram events from editing the config. TELEGRAM_BOT_TOKEN is the env
//     fallback for the default account's token.
//   - docs/gateway/configuration/environment-variables (docs.openclaw.ai) and
//     docs/help/environment: "${VAR}" in any config string is substituted from
//     the process env; OPENCLAW_STATE_DIR and OPENCLAW_CONFIG_PATH move the
//     state dir (default ~/.openclaw) and openclaw.json.
//   - docs/gateway/config-gateway.md: gateway.mode "local", port 18789,
//     bind "lan" (0.0.0.0; the default loopback is unreachable through
//     Docker's bridge), non-loopback binds require gateway.auth (token).
//   - docs/install/docker.md: images ghcr.io/openclaw/openclaw:<version>
//     (e.g. 2026.2.26); the image runs as node, uid 1000; unauthenticated
//     /healthz (liveness) and /readyz (readiness) on 18789; state in
//     /home/node/.openclaw; OPENCLAW_DISABLE_BONJOUR=1 for bridge networks.
//   - docs/providers/moonshot (docs.openclaw.ai): model ref
//     "moonshot/kimi-k2.5", key MOONSHOT_API_KEY; agents.defaults.model.primary
//     picks the model.
//   - commands.ownerAllowFrom "telegram:<id>" names the owner for owner-only
//     commands (docs/channels/telegram.md, DM policy tab).
//
// Assumptions, not confirmed by the docs:
//   - 2026.2.26 has every key used here (webhookHost landed around PR #7357,
//     2026-02); re-check when moving the pin.
//   - "anthropic/claude-sonnet-4-6" is the pro tier's model ref and the
//     bundled Anthropic provider reads ANTHROPIC_API_KEY.
//   - webhookUrl is only a switch here: the router's Bot API front swallows
//     the setWebhook OpenClaw makes on boot, so the URL is a reserved
//     .invalid name that nothing resolves.
//   - The image's default command starts the gateway; Cmd is left empty.
//   - Boot fits in 1 GiB with the heap capped below it (design §6 says
//     0.3–0.5 GiB steady).

import "time"

// openclawConfig is openclaw.json. Strings come from Vars through json, so
// they are quoted and escaped; the bot token and gateway token stay in the
// env and are referenced with OpenClaw's own ${VAR} substitution, so they
// are never written to the volume.
const openclawConfig = `{
  "gateway": {
    "mode": "local",
    "port": 18789,
    "bind": "lan",
    "auth": {"mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}"}
  },
  "agents": {
    "defaults": {
      "model": {"primary": {{if eq .Tier "pro"}}"anthropic/claude-sonnet-4-6"{{else}}"moonshot/kimi-k2.5"{{end}}}
    }
  },
  "commands": {"ownerAllowFrom": [{{json (printf "telegram:%d" .OwnerUserID)}}]},
  "channels": {
    "telegram": {
      "enabled": true,
      "botToken": "${TELEGRAM_BOT_TOKEN}",
      "apiRoot": {{json .APIRoot}},
      "webhookUrl": {{json (printf "https://zaki.invalid/tenants/%s/telegram-webhook" .TenantID)}},
      "webhookSecret": {{json .WebhookSecret}},
      "webhookPath": "/telegram-webhook",
      "webhookHost": "0.0.0.0",
      "webhookPort": 8787,
      "dmPolicy": "allowlist",
      "allowFrom": [{{json (printf "%d" .OwnerUserID)}}],
      "groupPolicy": "allowlist",
      "groups": {{telegramGroups .ChatIDs}},
      "configWrites": false
    }
  }
}
`

func openclawProfile() Profile {
	return Profile{
		Name:         "openclaw",
		Image:        "ghcr.io/openclaw/openclaw:2026.2.26",
		User:         "1000:1000",
		WebhookPort:  8787,
		WebhookPath:  "/telegram-webhook",
		HealthPort:   18789,
		HealthPath:   "/healthz",
		ReadyPort:    18789,
		ReadyPath:    "/readyz",
		ReadyTimeout: Duration(120 * time.Second),
		VolumePath:   "/home/node/.openclaw",
		Env: map[string]string{
			"HOME":                     "/home/node",
			"OPENCLAW_STATE_DIR":       "/home/node/.openclaw",
			"OPENCLAW_CONFIG_PATH":     "/home/node/.openclaw/openclaw.json",
			"OPENCLAW_DISABLE_BONJOUR": "1",
			"NODE_OPTIONS":             "--max-old-space-size={{.HeapMiB}}",
			"TELEGRAM_BOT_TOKEN":       "{{.BotToken}}",
			"OPENCLAW_GATEWAY_TOKEN":   "{{.GatewayToken}}",
			"MOONSHOT_API_KEY":         "{{.MoonshotAPIKey}}",
			"ANTHROPIC_API_KEY":        "{{.AnthropicAPIKey}}",
		},
		Files:       []File{{Path: "openclaw.json", Mode: 0o600, Template: openclawConfig}},
		MemoryBytes: 1 << 30,
		NanoCPUs:    1_000_000_000,
		PidsLimit:   512,
	}
}
