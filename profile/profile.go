// Package profile describes assistant profiles: how to run one tenant's
// container (image, ports, paths, limits, environment and config files), and
// renders a profile for one tenant. It is shared by the control plane (which
// reserves memory by profile) and the agent (which runs containers from it).
package profile

import "time"

// Profile is one kind of assistant container. Every field is required unless
// its comment gives a default.
type Profile struct {
	// Name is how assignments refer to the profile ("openclaw", "echo").
	Name string `json:"name"`
	// Image is the pinned image reference.
	Image string `json:"image"`
	// Cmd overrides the image's command; empty keeps it.
	Cmd []string `json:"cmd,omitempty"`
	// User is "uid:gid" inside the container.
	User string `json:"user"`

	// WebhookPort and WebhookPath are where the container's Telegram webhook
	// listener answers; the host port is published to WebhookPort.
	WebhookPort int    `json:"webhook_port"`
	WebhookPath string `json:"webhook_path"`
	// HealthPort/HealthPath answer liveness; ReadyPort/ReadyPath readiness.
	HealthPort int    `json:"health_port"`
	HealthPath string `json:"health_path"`
	ReadyPort  int    `json:"ready_port"`
	ReadyPath  string `json:"ready_path"`
	// ReadyTimeout is how long a container may take to become ready before
	// it is reported failed.
	ReadyTimeout Duration `json:"ready_timeout"`

	// VolumePath is where the tenant's named volume is mounted.
	VolumePath string `json:"volume_path"`
	// Env maps variable names to templates over Vars ("{{.BotToken}}"), so
	// secret values are referenced, never written into the profile.
	Env map[string]string `json:"env,omitempty"`
	// Files are rendered into the volume before every start.
	Files []File `json:"files,omitempty"`

	// Limits.
	MemoryBytes int64 `json:"memory_bytes"`
	NanoCPUs    int64 `json:"nano_cpus"`
	PidsLimit   int64 `json:"pids_limit"`
}

// File is a config file rendered into the tenant's volume.
type File struct {
	// Path is relative to the profile's VolumePath.
	Path string `json:"path"`
	// Mode is the file mode; 0 means 0600.
	Mode uint32 `json:"mode,omitempty"`
	// Template is a text/template over Vars.
	Template string `json:"template"`
}

// Vars are the per-tenant values a profile's templates may use.
type Vars struct {
	TenantID    string
	OwnerUserID int64
	// ChatIDs the assistant serves (its allowlist).
	ChatIDs []int64
	Tier    string
	// WebhookSecret is what the router sends in X-Telegram-Bot-Api-Secret-Token.
	WebhookSecret string
	// BotToken is the container's pseudo token, "<bot id>:<per-tenant secret>".
	BotToken string
	// APIRoot is the router's Bot API front as the container reaches it, with
	// no trailing slash ("http://host.docker.internal:7480").
	APIRoot string
	// HeapMiB is the JavaScript heap cap to pair with the memory limit.
	HeapMiB int64
	// MoonshotAPIKey and AnthropicAPIKey are the model providers' keys the
	// operator configured (free tier: Kimi K2.5 via Moonshot; pro: Claude
	// Sonnet via Anthropic). Optional: an empty one leaves its variable unset.
	MoonshotAPIKey  string
	AnthropicAPIKey string
	// GatewayToken guards the assistant's own gateway/control API, where the
	// profile has one (openclaw: gateway.auth.token). A per-tenant secret.
	GatewayToken string
}

// Duration is a time.Duration that reads and writes as a Go duration string
// ("90s") in JSON.
type Duration time.Duration
