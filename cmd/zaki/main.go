// Command zaki is the one binary of Zaki: every role is a subcommand.
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
	"github.com/zaki-platform/zaki/internal/version"
)

// Globals are the flags every subcommand takes.
type Globals struct {
	LogLevel string `name:"log-level" env:"ZAKI_LOG_LEVEL" default:"info" enum:"trace,debug,info,warn,error" help:"Log level: trace, debug, info, warn or error (default: ${default})."`
	LogJSON  bool   `name:"log-json" env:"ZAKI_LOG_JSON" help:"Log one JSON object per line instead of text (default: off)."`
}

// Logger returns the process's root logger named for its role.
func (g *Globals) Logger(role string) hclog.Logger {
	return obs.NewLogger(role, obs.LogOptions{Level: g.LogLevel, JSON: g.LogJSON})
}

type cli struct {
	Globals

	Controlplane controlplaneCmd `cmd:"" help:"Run the control plane: the gRPC API, etcd (embedded or external) and the scheduler."`
	Agent        agentCmd        `cmd:"" help:"Run the agent on a host: drives the local Docker Engine for the tenants placed here."`
	Router       routerCmd       `cmd:"" help:"Run the router: Telegram webhook ingress, forwarding, and the Bot API front for containers."`
	Dev          devCmd          `cmd:"" help:"Run everything on this machine: embedded etcd, control plane, agent, router, and a local Telegram stand-in."`
	Ctl          ctlCmd          `cmd:"" help:"Operator commands against a control plane."`
	Version      versionCmd      `cmd:"" help:"Print the version."`
}

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println("zaki", version.Version)
	return nil
}

func main() {
	var c cli
	kctx := kong.Parse(&c,
		kong.Name("zaki"),
		kong.Description("Zaki gives every person who talks to one shared Telegram bot their own private AI assistant, "+
			"each in its own container, on a fleet of hosts. Every flag can also be set by the environment variable shown beside it."),
		kong.ShortUsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	kctx.BindTo(ctx, (*context.Context)(nil))
	err := kctx.Run(&c.Globals)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zaki:", err)
		os.Exit(1)
	}
}
