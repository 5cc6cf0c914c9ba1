package router

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/zaki-platform/zaki/internal/member"
)

// Config configures a router. Zero fields take the defaults given with them;
// BotToken and WebhookSecret have none and are required.
type Config struct {
	Listen         string        // webhook listener, default "127.0.0.1:8443"
	FrontListen    string        // Bot API front for containers, default "127.0.0.1:7480"
	ControlPlane   string        // TenantService gRPC addresses, comma-separated, failed over between; default: those joined through (StateDir), else "127.0.0.1:7400"
	BotToken       string        // the real token "<id>:<secret>"; only the router holds it
	WebhookSecret  string        // checked on every webhook POST; 1-256 of A-Z a-z 0-9 _ -
	TelegramAPIURL string        // default "https://api.telegram.org"
	PublicURL      string        // if set, setWebhook(PublicURL+"/telegram/webhook") at start
	ForwardTimeout time.Duration // one forward to a container, default 10s
	// StateDir keeps the router's key, certificate and the cluster CA, for
	// mutual TLS with the control plane (tls.go). Empty means plaintext,
	// which a real control plane refuses: tests against a fake only.
	StateDir string
	// JoinToken joins the cluster at ControlPlane when StateDir holds no
	// credentials yet. Never logged.
	JoinToken string
	// ProgressInterval is the control plane's progress period on WatchRoutes;
	// a stream silent for three of them is torn down. Default 15s.
	ProgressInterval time.Duration
	// RetryMin is the first step of every retry backoff (re-listing routes,
	// draining parked updates), default 500ms; steps grow to 30s.
	RetryMin time.Duration
	// MaxBodyBytes caps a webhook body, default 1 MiB (413 above it).
	MaxBodyBytes int64
	// MaxFrontBodyBytes caps a Bot API call's body, default 64 MiB.
	MaxFrontBodyBytes int64
	Logger            hclog.Logger         // nil = hclog.NewNullLogger()
	Registry          *prometheus.Registry // nil = a private registry
	HTTPClient        *http.Client         // nil = a tuned default
}

// WebhookPath is where Telegram posts updates.
const WebhookPath = "/telegram/webhook"

var errNoToken = errors.New("bot token is required")

// maxWebhookSecret is the longest secret_token setWebhook accepts.
const maxWebhookSecret = 256

// checkWebhookSecret applies Telegram's rule for setWebhook's secret_token:
// 1-256 characters, each of A-Z, a-z, 0-9, _ and -. A secret Telegram would
// refuse could never match a webhook POST. Its errors never carry the secret.
func checkWebhookSecret(s string) error {
	const rule = "1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule for secret_token)"
	switch {
	case s == "":
		return errors.New("webhook secret is required: " + rule)
	case len(s) > maxWebhookSecret:
		return fmt.Errorf("webhook secret is %d bytes long, want %s", len(s), rule)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("webhook secret has a character not allowed at byte %d, want %s", i+1, rule)
		}
	}
	return nil
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Listen, "127.0.0.1:8443")
	def(&c.FrontListen, "127.0.0.1:7480")
	if c.ControlPlane == "" && c.StateDir != "" {
		c.ControlPlane = member.StoredControlPlane(c.StateDir)
	}
	def(&c.ControlPlane, "127.0.0.1:7400")
	def(&c.TelegramAPIURL, "https://api.telegram.org")
	c.TelegramAPIURL = strings.TrimRight(c.TelegramAPIURL, "/")
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = 10 * time.Second
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 15 * time.Second
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 500 * time.Millisecond
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxFrontBodyBytes <= 0 {
		c.MaxFrontBodyBytes = 64 << 20
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.HTTPClient == nil {
		c.HTTPClient = defaultHTTPClient()
	}
	return c
}

// defaultHTTPClient keeps connections to containers and to Telegram warm. It
// ignores proxy settings: forwards go to private node addresses.
func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
}

// parseBotID reads the bot id from a token "<id>:<secret>". Its errors never
// carry the token.
func parseBotID(token string) (int64, error) {
	if token == "" {
		return 0, errNoToken
	}
	idPart, rest, ok := strings.Cut(token, ":")
	if !ok || rest == "" {
		return 0, errors.New("bot token is malformed: want <bot id>:<secret>")
	}
	id, err := strconv.ParseInt(idPart, 10, 64)
	if err != nil || id <= 0 {
		return 0, errors.New("bot token is malformed: the part before ':' is not a bot id")
	}
	return id, nil
}
