package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zaki-platform/zaki/controlplane"
	"github.com/zaki-platform/zaki/internal/obs"
)

type controlplaneCmd struct {
	DataDir         string        `name:"data-dir" env:"ZAKI_DATA_DIR" default:"./zaki-data" help:"Directory of the embedded etcd (default: ${default}). Unused with --etcd-endpoints."`
	EtcdEndpoints   []string      `name:"etcd-endpoints" env:"ZAKI_ETCD_ENDPOINTS" help:"External etcd cluster, comma-separated (default: none, etcd is embedded)."`
	EtcdClientURL   string        `name:"etcd-client-url" env:"ZAKI_ETCD_CLIENT_URL" default:"http://127.0.0.1:2379" help:"Embedded etcd's client listen URL, an IP (0.0.0.0 for all) (default: ${default})."`
	EtcdPeerURL     string        `name:"etcd-peer-url" env:"ZAKI_ETCD_PEER_URL" default:"http://127.0.0.1:2380" help:"Embedded etcd's peer listen URL, an IP (0.0.0.0 for all) (default: ${default})."`
	GRPCListen      string        `name:"grpc-listen" env:"ZAKI_GRPC_LISTEN" default:"127.0.0.1:7400" help:"Address of the gRPC API for agents, routers and zaki ctl (default: ${default})."`
	HTTPListen      string        `name:"http-listen" env:"ZAKI_HTTP_LISTEN" default:"127.0.0.1:7401" help:"Address of /healthz, /readyz and /metrics (default: ${default})."`
	HeartbeatPeriod time.Duration `name:"heartbeat-period" env:"ZAKI_HEARTBEAT_PERIOD" default:"5s" help:"How often agents heartbeat (default: ${default})."`
	DefaultProfile  string        `name:"default-profile" env:"ZAKI_DEFAULT_PROFILE" default:"openclaw" help:"Assistant profile of new tenants: openclaw or echo (default: ${default})."`

	haFlags    `embed:""`
	fleetFlags `embed:""`
	trustFlags `embed:""`
}

func (c *controlplaneCmd) config(g *Globals) controlplane.Config {
	return controlplane.Config{
		DataDir:       c.DataDir,
		EtcdEndpoints: c.EtcdEndpoints,
		EtcdClientURL: c.EtcdClientURL,
		EtcdPeerURL:   c.EtcdPeerURL,

		ID:                      c.ID,
		ReplicaTTL:              c.ReplicaTTL,
		EtcdName:                c.EtcdName,
		EtcdInitialCluster:      c.EtcdInitialCluster,
		EtcdInitialClusterState: c.EtcdInitialClusterState,
		EtcdClientAdvertiseURL:  c.EtcdClientAdvertiseURL,
		EtcdPeerAdvertiseURL:    c.EtcdPeerAdvertiseURL,

		GRPCListen:      c.GRPCListen,
		HeartbeatPeriod: c.HeartbeatPeriod,
		DefaultProfile:  c.DefaultProfile,
		Logger:          g.Logger("controlplane"),
		Registry:        obs.NewRegistry(),

		MissedHeartbeats: c.MissedHeartbeats,
		UnknownGrace:     c.UnknownGrace,
		PortCooldown:     c.PortCooldown,
		SchedulerPolicy:  c.policy(),

		CAKeyFile:      c.CAKeyFile,
		AdvertiseNames: c.AdvertiseNames,
		CertLifetime:   c.CertLifetime,
	}
}

func (c *controlplaneCmd) Run(ctx context.Context, g *Globals) error {
	cfg := c.config(g)
	srv, err := controlplane.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	if _, err := obs.ServeOps(ctx, cfg.Logger, c.HTTPListen, cfg.Registry, srv.Ready); err != nil {
		return err
	}
	return srv.Wait()
}
