// Command zaki-tgstandin serves the local Telegram Bot API stand-in
// (internal/tgstandin) on an address, for a local fleet and its tests, and
// plays the sample conversation to a router's webhook. It is a development
// tool: it never talks to Telegram.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"github.com/hashicorp/go-hclog"

	"github.com/zaki-platform/zaki/internal/obs"
)

type cli struct {
	LogLevel string `name:"log-level" env:"ZAKI_LOG_LEVEL" default:"info" enum:"trace,debug,info,warn,error" help:"Log level: trace, debug, info, warn or error (default: ${default})."`

	Serve serveCmd `cmd:"" help:"Serve the Bot API stand-in for one bot, and GET /standin/calls listing the calls it recorded."`
	Play  playCmd  `cmd:"" help:"Post the sample conversation to a router's webhook, then print the replies the stand-in recorded per chat."`
}

func (c *cli) logger() hclog.Logger {
	return obs.NewLogger("tgstandin", obs.LogOptions{Level: c.LogLevel})
}

func main() {
	var c cli
	kctx := kong.Parse(&c,
		kong.Name("zaki-tgstandin"),
		kong.Description("A local stand-in for the Telegram Bot API, for a local Zaki fleet and its tests. "+
			"Every flag can also be set by the environment variable shown beside it."),
		kong.ShortUsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if err := kctx.Run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "zaki-tgstandin:", err)
		os.Exit(1)
	}
}
