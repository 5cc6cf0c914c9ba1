package devcluster

import (
	"github.com/hashicorp/go-hclog"
)

// Options configure a dev cluster. The zero value runs the echo profile on the
// default local ports with a fresh, temporary state that is removed at exit.
type Options struct {
	// DataDir keeps etcd's state between runs. Empty means a fresh temporary
	// directory, removed at exit together with the node's containers, networks
	// and volumes, so every run starts the sample conversation anew.
	DataDir string
	// NodeID names the local agent's node; default "dev".
	NodeID string
	// Profile is the assistant profile of new tenants; default "echo".
	Profile string

	// Addresses. Empty fields take the defaults in the comments.
	GRPCListen    string // 127.0.0.1:7400
	EtcdClientURL string // http://127.0.0.1:7410
	EtcdPeerURL   string // http://127.0.0.1:7411
	WebhookListen string // 127.0.0.1:8443
	FrontPort     int    // 7480, on the Docker bridge's host address
	StandinListen string // 127.0.0.1:7490
	OpsListen     string // 127.0.0.1:7401: /healthz, /readyz, /metrics of every role
	PortMin       uint32 // 19000
	PortMax       uint32 // 19999
	HeartbeatSecs int    // 2

	// Telegram. With no BotToken a local stand-in plays the Bot API.
	BotToken       string
	TelegramAPIURL string // https://api.telegram.org when BotToken is set
	PublicURL      string
	// WebhookSecret defaults to a fresh random secret.
	WebhookSecret string

	// CredentialsDir receives the operator's credentials for zaki ctl;
	// default ~/.zaki/dev/admin, where zaki ctl looks without flags.
	CredentialsDir string

	Logger hclog.Logger
}

func (o *Options) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.NodeID, "dev")
	def(&o.Profile, "echo")
	def(&o.GRPCListen, "127.0.0.1:7400")
	def(&o.EtcdClientURL, "http://127.0.0.1:7410")
	def(&o.EtcdPeerURL, "http://127.0.0.1:7411")
	def(&o.WebhookListen, "127.0.0.1:8443")
	def(&o.StandinListen, "127.0.0.1:7490")
	def(&o.OpsListen, "127.0.0.1:7401")
	if o.FrontPort == 0 {
		o.FrontPort = 7480
	}
	if o.PortMin == 0 {
		o.PortMin, o.PortMax = 19000, 19999
	}
	if o.HeartbeatSecs == 0 {
		o.HeartbeatSecs = 2
	}
	if o.BotToken != "" {
		def(&o.TelegramAPIURL, "https://api.telegram.org")
	}
	if o.CredentialsDir == "" {
		o.CredentialsDir = DefaultCredentialsDir()
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
}
