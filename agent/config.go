package agent

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/docker/docker/client"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zaki-platform/zaki/internal/member"
)

// Config configures an Agent. The zero value of every field means the default
// in its comment.
type Config struct {
	// NodeID names this host in the cluster: [a-z0-9][a-z0-9-]{0,62}.
	// Default: the hostname, lowercased and sanitized.
	NodeID string
	// ControlPlane is one or more control-plane gRPC addresses,
	// comma-separated; the agent fails over between them. Default: the
	// addresses the node joined through (kept in StateDir), else "127.0.0.1:7400".
	ControlPlane string
	// StateDir keeps the node's private key, certificate and the cluster CA
	// (see join.go); the agent speaks mutual TLS with them. Empty means
	// plaintext gRPC, which a real control plane refuses: only for tests
	// against an in-process fake.
	StateDir string
	// JoinToken joins the cluster at ControlPlane when StateDir holds no
	// credentials yet; once joined it is not needed. It is never logged.
	JoinToken string
	// Address is the host's private address: tenant host ports bind only to it
	// and routers forward to it. Default "127.0.0.1".
	Address string
	// PortMin and PortMax bound the host ports tenants are published on
	// (inclusive). Default 19000-19999, outside the kernel's ephemeral range.
	PortMin, PortMax uint32
	// MemoryBytes is the memory offered to tenant containers. Default: 80% of
	// the host's memory (4 GiB when it cannot be read).
	MemoryBytes int64
	// MaxTenants caps the containers on this host. Default 25: each tenant
	// has its own bridge network, and Docker's default address pools hold
	// about 30 networks; raise it together with the daemon's
	// default-address-pools.
	MaxTenants uint32
	// Labels are matched by the scheduler's constraints.
	Labels map[string]string
	// BotAPIURL is the router's Bot API front as containers reach it.
	// Default "http://host.docker.internal:7480".
	BotAPIURL string
	// ModelKeys are the model providers' API keys handed to every tenant's
	// container by reference from its profile (the tier picks the model).
	// They come from the agent's environment and are never logged.
	ModelKeys ModelKeys
	// ResyncPeriod is how often every tenant's container is looked at again,
	// so one that died or was removed behind the agent's back is brought
	// back. Default 10s.
	ResyncPeriod time.Duration
	// TransferListen is where this agent serves TransferService, from which
	// the target of a move pulls a stopped tenant's volume ("host:port").
	// Empty serves nothing, so no tenant can be moved away from this node;
	// the zaki agent command defaults it to DefaultTransferListen.
	TransferListen string
	// TransferAdvertise is the TransferService address other agents dial,
	// reported to the control plane. Default: the address TransferListen
	// bound, with Address in place of an unspecified host (0.0.0.0, [::]).
	TransferAdvertise string
	// Version is reported to the control plane as the agent's version.
	Version string
	// Logger; nil discards logs.
	Logger hclog.Logger
	// Registry receives the agent's metrics; nil keeps them private.
	Registry *prometheus.Registry
	// Docker is the engine; nil means the local engine from the environment
	// (DOCKER_HOST and friends), with API version negotiation.
	Docker Docker
}

// Defaults.
const (
	DefaultControlPlane = "127.0.0.1:7400"
	DefaultAddress      = "127.0.0.1"
	DefaultPortMin      = 19000
	DefaultPortMax      = 19999
	DefaultMemoryBytes  = 4 << 30
	DefaultMaxTenants   = 25
	DefaultBotAPIURL    = "http://host.docker.internal:7480"
	DefaultResyncPeriod = 10 * time.Second
	// DefaultTransferListen is the zaki agent command's --transfer-listen.
	DefaultTransferListen = "127.0.0.1:7404"
)

var nodeIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// withDefaults returns cfg with every zero field set to its default, or an
// error naming the first invalid field.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.NodeID == "" {
		host, err := os.Hostname()
		if err != nil {
			return cfg, fmt.Errorf("node id not set and no hostname: %w", err)
		}
		cfg.NodeID = SanitizeNodeID(host)
	}
	if !nodeIDPattern.MatchString(cfg.NodeID) {
		return cfg, fmt.Errorf("node id %q must match %s", cfg.NodeID, nodeIDPattern)
	}
	if cfg.ControlPlane == "" && cfg.StateDir != "" {
		cfg.ControlPlane = member.StoredControlPlane(cfg.StateDir)
	}
	setDefault(&cfg.ControlPlane, DefaultControlPlane)
	setDefault(&cfg.Address, DefaultAddress)
	setDefault(&cfg.BotAPIURL, DefaultBotAPIURL)
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = DefaultResyncPeriod
	}
	cfg.BotAPIURL = strings.TrimRight(cfg.BotAPIURL, "/")
	if cfg.PortMin == 0 && cfg.PortMax == 0 {
		cfg.PortMin, cfg.PortMax = DefaultPortMin, DefaultPortMax
	}
	if cfg.PortMin == 0 || cfg.PortMin > cfg.PortMax || cfg.PortMax > 65535 {
		return cfg, fmt.Errorf("invalid host port range %d-%d", cfg.PortMin, cfg.PortMax)
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = defaultMemory()
	}
	if cfg.MaxTenants == 0 {
		cfg.MaxTenants = DefaultMaxTenants
	}
	if err := checkHostPort("transfer listen", cfg.TransferListen); err != nil {
		return cfg, err
	}
	if err := checkHostPort("transfer advertise", cfg.TransferAdvertise); err != nil {
		return cfg, err
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	return cfg, nil
}

// checkHostPort accepts "" or "host:port".
func checkHostPort(what, addr string) error {
	if addr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("%s address %q must be host:port", what, addr)
	}
	return nil
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// SanitizeNodeID turns a hostname into a valid node id: lowercased, every
// character outside [a-z0-9-] replaced by '-', leading dashes dropped, at most
// 63 characters. It returns "node" when nothing usable is left.
func SanitizeNodeID(host string) string {
	host, _, _ = strings.Cut(strings.ToLower(host), ".")
	b := []byte(host)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			b[i] = '-'
		}
	}
	id := strings.TrimLeft(string(b), "-")
	if len(id) > 63 {
		id = id[:63]
	}
	if id == "" {
		return "node"
	}
	return id
}

// localDocker connects to the engine named by the environment.
func localDocker() (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("agent: docker client: %w", err)
	}
	return cli, nil
}

// ModelKeys are API keys of the model providers the tiers use.
type ModelKeys struct {
	Moonshot  string // MOONSHOT_API_KEY: Kimi K2.5, the free tier
	Anthropic string // ANTHROPIC_API_KEY: Claude Sonnet, the pro tier
}
