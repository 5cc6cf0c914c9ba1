package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zaki-platform/zaki/internal/obs"
	"github.com/zaki-platform/zaki/router"
)

type routerCmd struct {
	Listen         string        `name:"listen" env:"ZAKI_LISTEN" default:"127.0.0.1:8443" help:"Address of the Telegram webhook, POST /telegram/webhook (default: ${default})."`
	FrontListen    string        `name:"front-listen" env:"ZAKI_FRONT_LISTEN" default:"127.0.0.1:7480" help:"Address of the Bot API front that containers call; it must be reachable from them: Docker's bridge address (172.17.0.1:7480) when the agent runs on this host, a private address otherwise (default: ${default})."`
	HTTPListen     string        `name:"http-listen" env:"ZAKI_HTTP_LISTEN" default:"127.0.0.1:7403" help:"Address of /healthz, /readyz and /metrics (default: ${default})."`
	ControlPlane   string        `name:"controlplane" env:"ZAKI_CONTROLPLANE" help:"One or more control-plane addresses, comma-separated; the client fails over between them (default: the --join addresses, kept in --state-dir; else 127.0.0.1:7400)."`
	Join           string        `name:"join" env:"ZAKI_JOIN" placeholder:"ADDR" help:"Join the cluster at this control-plane gRPC address (or several, comma-separated, tried in turn) with --token; needed once, the credentials are then kept in --state-dir (default: none)."`
	Token          string        `name:"token" env:"ZAKI_JOIN_TOKEN" help:"Join token from 'zaki ctl token create --role router'; needed once, with --join. Prefer the environment variable (default: none)."`
	StateDir       string        `name:"state-dir" env:"ZAKI_STATE_DIR" default:"/var/lib/zaki/router" help:"Where this router keeps its private key, certificate and the cluster CA (default: ${default})."`
	BotToken       string        `name:"bot-token" env:"ZAKI_BOT_TOKEN" required:"" help:"The bot's token from @BotFather; only the router holds it. Prefer the environment variable (required, no default)."`
	WebhookSecret  string        `name:"webhook-secret" env:"ZAKI_WEBHOOK_SECRET" required:"" help:"Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; 1-256 of A-Z a-z 0-9 _ -. Prefer the environment variable (required, no default)."`
	TelegramAPIURL string        `name:"telegram-api-url" env:"ZAKI_TELEGRAM_API_URL" default:"https://api.telegram.org" help:"Upstream Bot API (default: ${default})."`
	PublicURL      string        `name:"public-url" env:"ZAKI_PUBLIC_URL" help:"Public HTTPS base URL of this router; when set, the webhook is registered with Telegram at start (default: none)."`
	ForwardTimeout time.Duration `name:"forward-timeout" env:"ZAKI_FORWARD_TIMEOUT" default:"10s" help:"How long a container may take to accept an update before it is parked (default: ${default})."`
}

func (c *routerCmd) config(g *Globals) router.Config {
	return router.Config{
		Listen:         c.Listen,
		FrontListen:    c.FrontListen,
		ControlPlane:   joinOr(c.Join, c.ControlPlane),
		StateDir:       c.StateDir,
		JoinToken:      c.Token,
		BotToken:       c.BotToken,
		WebhookSecret:  c.WebhookSecret,
		TelegramAPIURL: c.TelegramAPIURL,
		PublicURL:      c.PublicURL,
		ForwardTimeout: c.ForwardTimeout,
		Logger:         g.Logger("router"),
		Registry:       obs.NewRegistry(),
	}
}

func (c *routerCmd) Run(ctx context.Context, g *Globals) error {
	cfg := c.config(g)
	r, err := router.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if _, err := obs.ServeOps(ctx, cfg.Logger, c.HTTPListen, cfg.Registry, r.Ready); err != nil {
		return err
	}
	return r.Wait()
}
