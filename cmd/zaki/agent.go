package main

import (
	"context"
	"fmt"

	"github.com/zaki-platform/zaki/agent"
	"github.com/zaki-platform/zaki/internal/obs"
	"github.com/zaki-platform/zaki/internal/version"
)

type agentCmd struct {
	NodeID            string            `name:"node-id" env:"ZAKI_NODE_ID" help:"This node's id, [a-z0-9-] (default: the host name)."`
	ControlPlane      string            `name:"controlplane" env:"ZAKI_CONTROLPLANE" help:"One or more control-plane addresses, comma-separated; the client fails over between them (default: the --join addresses, kept in --state-dir; else 127.0.0.1:7400)."`
	Join              string            `name:"join" env:"ZAKI_JOIN" placeholder:"ADDR" help:"Join the cluster at this control-plane gRPC address (or several, comma-separated, tried in turn) with --token; needed once, the credentials are then kept in --state-dir (default: none)."`
	Token             string            `name:"token" env:"ZAKI_JOIN_TOKEN" help:"Join token from 'zaki ctl token create' on the control plane; needed once, with --join. Prefer the environment variable (default: none)."`
	StateDir          string            `name:"state-dir" env:"ZAKI_STATE_DIR" default:"/var/lib/zaki/agent" help:"Where this node keeps its private key, certificate and the cluster CA (default: ${default})."`
	Address           string            `name:"address" env:"ZAKI_ADDRESS" default:"127.0.0.1" help:"Private address of this host: tenant ports bind only to it and routers forward to it (default: ${default})."`
	PortMin           uint32            `name:"port-min" env:"ZAKI_PORT_MIN" default:"19000" help:"Lowest host port for tenant containers (default: ${default})."`
	PortMax           uint32            `name:"port-max" env:"ZAKI_PORT_MAX" default:"19999" help:"Highest host port for tenant containers (default: ${default})."`
	Memory            int64             `name:"memory-bytes" env:"ZAKI_MEMORY_BYTES" default:"0" help:"Memory this host offers to tenant containers, in bytes; each tenant reserves its tier's memory or its profile's limit, whichever is larger (default: 0, meaning 80% of this host's memory)."`
	MaxTenants        uint32            `name:"max-tenants" env:"ZAKI_MAX_TENANTS" default:"25" help:"Most tenant containers on this host; each has its own Docker network, and Docker's default address pools hold about 30, so raise default-address-pools in daemon.json before raising this (default: ${default})."`
	Labels            map[string]string `name:"label" env:"ZAKI_LABELS" help:"Node labels for scheduling constraints, key=value (default: none)."`
	BotAPIURL         string            `name:"bot-api-url" env:"ZAKI_BOT_API_URL" default:"http://host.docker.internal:7480" help:"The router's Bot API front as containers reach it. host.docker.internal is this host's address on Docker's bridge (172.17.0.1 by default), so a router on this host must listen there: --front-listen 172.17.0.1:7480 (default: ${default})."`
	TransferListen    string            `name:"transfer-listen" env:"ZAKI_TRANSFER_LISTEN" default:"127.0.0.1:7404" help:"Address of this node's volume transfer service, from which a move's target node pulls a stopped tenant's volume over mutual TLS; other agents must reach it, so on a fleet use the private address; empty serves none, and then no tenant can move away from this node (default: ${default})."`
	TransferAdvertise string            `name:"transfer-advertise" env:"ZAKI_TRANSFER_ADVERTISE" help:"Address other agents dial for this node's transfer service, when it differs from --transfer-listen (NAT, containers) (default: the --transfer-listen address, with --address for an unspecified host such as 0.0.0.0)."`
	HTTPListen        string            `name:"http-listen" env:"ZAKI_HTTP_LISTEN" default:"127.0.0.1:7402" help:"Address of /healthz, /readyz and /metrics (default: ${default})."`
	MoonshotKey       string            `name:"moonshot-api-key" env:"ZAKI_MOONSHOT_API_KEY" help:"Moonshot API key for the free tier's model, handed to openclaw containers. Use the environment variable (default: none)."`
	AnthropicKey      string            `name:"anthropic-api-key" env:"ZAKI_ANTHROPIC_API_KEY" help:"Anthropic API key for the pro tier's model, handed to openclaw containers. Use the environment variable (default: none)."`
}

func (c *agentCmd) config(g *Globals) agent.Config {
	return agent.Config{
		NodeID:            c.NodeID,
		ControlPlane:      joinOr(c.Join, c.ControlPlane),
		StateDir:          c.StateDir,
		JoinToken:         c.Token,
		Address:           c.Address,
		PortMin:           c.PortMin,
		PortMax:           c.PortMax,
		MemoryBytes:       c.Memory,
		MaxTenants:        c.MaxTenants,
		Labels:            c.Labels,
		BotAPIURL:         c.BotAPIURL,
		TransferListen:    c.TransferListen,
		TransferAdvertise: c.TransferAdvertise,
		ModelKeys:         agent.ModelKeys{Moonshot: c.MoonshotKey, Anthropic: c.AnthropicKey},
		Version:           version.Version,
		Logger:            g.Logger("agent"),
		Registry:          obs.NewRegistry(),
	}
}

func (c *agentCmd) Run(ctx context.Context, g *Globals) error {
	cfg := c.config(g)
	a, err := agent.New(cfg)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	if _, err := obs.ServeOps(ctx, cfg.Logger, c.HTTPListen, cfg.Registry, a.Ready); err != nil {
		return err
	}
	return a.Run(ctx)
}
