package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/zaki-platform/zaki/internal/devcluster"
	"github.com/zaki-platform/zaki/internal/tgstandin"
)

type devCmd struct {
	DataDir        string `name:"data-dir" env:"ZAKI_DEV_DATA_DIR" help:"Keep the dev cluster's state here between runs (default: a fresh temporary state, removed at exit with its containers and volumes)."`
	Profile        string `name:"profile" env:"ZAKI_DEFAULT_PROFILE" default:"echo" help:"Assistant profile of new tenants: echo or openclaw (default: ${default})."`
	Listen         string `name:"listen" env:"ZAKI_LISTEN" default:"127.0.0.1:8443" help:"Address of the Telegram webhook (default: ${default})."`
	GRPCListen     string `name:"grpc-listen" env:"ZAKI_GRPC_LISTEN" default:"127.0.0.1:7400" help:"Control plane gRPC address; zaki ctl finds it here (default: ${default})."`
	FrontPort      int    `name:"front-port" env:"ZAKI_FRONT_PORT" default:"7480" help:"Port of the Bot API front, on Docker's bridge address (default: ${default})."`
	BotToken       string `name:"bot-token" env:"ZAKI_BOT_TOKEN" help:"A real bot's token; with it no stand-in runs and nothing is played (default: none, a local Telegram stand-in)."`
	TelegramAPIURL string `name:"telegram-api-url" env:"ZAKI_TELEGRAM_API_URL" help:"Bot API to use with --bot-token (default: https://api.telegram.org)."`
	PublicURL      string `name:"public-url" env:"ZAKI_PUBLIC_URL" help:"Public HTTPS base URL of the router; when set, the webhook is registered with Telegram (default: none)."`
	WebhookSecret  string `name:"webhook-secret" env:"ZAKI_WEBHOOK_SECRET" help:"Webhook secret (default: a fresh random one)."`
	HTTPListen     string `name:"http-listen" env:"ZAKI_HTTP_LISTEN" default:"127.0.0.1:7401" help:"Address of /healthz, /readyz and /metrics for every role (default: ${default})."`
	EtcdClientURL  string `name:"etcd-client-url" env:"ZAKI_DEV_ETCD_CLIENT_URL" default:"http://127.0.0.1:7410" help:"Embedded etcd's client URL (default: ${default})."`
	EtcdPeerURL    string `name:"etcd-peer-url" env:"ZAKI_DEV_ETCD_PEER_URL" default:"http://127.0.0.1:7411" help:"Embedded etcd's peer URL (default: ${default})."`
	StandinListen  string `name:"standin-listen" env:"ZAKI_STANDIN_LISTEN" default:"127.0.0.1:7490" help:"Address of the local Telegram stand-in (default: ${default})."`
	NoPlay         bool   `name:"no-play" env:"ZAKI_NO_PLAY" help:"Do not play the sample conversation (default: play it when the stand-in runs)."`
	CredentialsDir string `name:"credentials-dir" env:"ZAKI_DEV_CREDENTIALS" help:"Where to write the operator's credentials for zaki ctl (default: ~/.zaki/dev/admin, where zaki ctl looks)."`
}

func (d *devCmd) Run(ctx context.Context, g *Globals) error {
	log := g.Logger("dev")
	say("starting Zaki on this machine: embedded etcd, control plane, agent, router")
	c, err := devcluster.Start(ctx, devcluster.Options{
		DataDir: d.DataDir, Profile: d.Profile, CredentialsDir: d.CredentialsDir,
		WebhookListen: d.Listen, GRPCListen: d.GRPCListen, OpsListen: d.HTTPListen, FrontPort: d.FrontPort,
		StandinListen: d.StandinListen, EtcdClientURL: d.EtcdClientURL, EtcdPeerURL: d.EtcdPeerURL,
		BotToken: d.BotToken, TelegramAPIURL: d.TelegramAPIURL, PublicURL: d.PublicURL,
		WebhookSecret: d.WebhookSecret, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	say("control plane  grpc://%s   (zaki ctl nodes, zaki ctl tenants; credentials in %s)",
		c.ControlPlane.Addr(), c.CredentialsDir)
	say("router         webhook %s   Bot API front %s", c.WebhookURL, c.Router.FrontAddr())
	say("agent          node %q on the local Docker Engine, profile %q", c.NodeID, c.Profile)
	if c.Standin != nil {
		go printReplies(ctx, c.Standin)
		if !d.NoPlay {
			d.play(ctx, c)
		}
	} else {
		say("using the Bot API at %s; nothing is played", c.TelegramAPIURL)
	}
	say("serving until interrupted (Ctrl-C)")
	return c.Wait()
}

func (d *devCmd) play(ctx context.Context, c *devcluster.Cluster) {
	say("playing the sample conversation through %s", c.WebhookURL)
	codes, err := c.PlaySamples(ctx)
	ok := 0
	for _, code := range codes {
		if code == http.StatusOK {
			ok++
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zaki dev: playing the samples: %v\n", err)
	}
	say("%d of %d sample updates accepted; replies follow as each person's container answers", ok, len(codes))
	say("(the echo assistant answers text messages only: edits, buttons, reactions, photos and the block are")
	say(" delivered to their person's container without a reply; the forum nobody added the bot to is unroutable)")
}

// printReplies prints each message a container sends through the Bot API front.
func printReplies(ctx context.Context, s *tgstandin.Server) {
	names := devcluster.ChatNames()
	calls, unsubscribe := s.Subscribe()
	defer unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return
		case call := <-calls:
			if call.Method != "sendMessage" || call.ChatID == 0 {
				// A call the stand-in refused names no chat.
				continue
			}
			who := names[call.ChatID]
			if who == "" {
				who = strconv.FormatInt(call.ChatID, 10)
			}
			fmt.Printf("  reply to %-8s (chat %d): %s\n", who, call.ChatID, call.Text)
		}
	}
}

func say(format string, args ...any) {
	fmt.Printf("zaki dev: "+format+"\n", args...)
}
