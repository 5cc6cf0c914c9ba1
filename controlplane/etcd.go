package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdQuorumTimeout bounds how long an embedded member waits for its
// cluster's quorum; the wait is logged every Config.etcdWaitLog.
const (
	etcdQuorumTimeout  = 5 * time.Minute
	defaultEtcdWaitLog = 10 * time.Second
)

// startEmbedded starts this process's etcd member in cfg.DataDir and
// returns it once it serves clients, which for a new cluster of several
// members means once a quorum of them has started.
func startEmbedded(ctx context.Context, cfg Config, elog *etcdLog) (*embed.Etcd, etcdMember, error) {
	if cfg.DataDir == "" {
		return nil, etcdMember{}, fmt.Errorf("%w: no etcd data dir and no etcd endpoints: set one", errInvalid)
	}
	m, err := cfg.embeddedMember()
	if err != nil {
		return nil, m, err
	}
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, m, err
	}
	if err := checkFree("client", m.listenClient.Host, "--etcd-client-url"); err != nil {
		return nil, m, err
	}
	if err := checkFree("peer", m.listenPeer.Host, "--etcd-peer-url"); err != nil {
		return nil, m, err
	}
	e, err := embed.StartEtcd(embedConfig(cfg, m, elog))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, m, inUse("client or peer", m.listenClient.Host+" / "+m.listenPeer.Host, "--etcd-client-url")
		}
		return nil, m, fmt.Errorf("start embedded etcd in %s: %w", cfg.DataDir, err)
	}
	if err := waitQuorum(ctx, e, cfg, m); err != nil {
		elog.closing.Store(true) // its complaints about being stopped are noise
		e.Server.Stop()
		e.Close()
		return nil, m, err
	}
	return e, m, nil
}

func embedConfig(cfg Config, m etcdMember, elog *etcdLog) *embed.Config {
	ec := embed.NewConfig()
	ec.Name = cfg.EtcdName
	ec.Dir = cfg.DataDir
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(elog.zap())
	ec.ListenClientUrls = []url.URL{m.listenClient}
	ec.AdvertiseClientUrls = []url.URL{m.advertiseClient}
	ec.ListenPeerUrls = []url.URL{m.listenPeer}
	ec.AdvertisePeerUrls = []url.URL{m.advertisePeer}
	ec.InitialCluster = m.initialCluster()
	ec.ClusterState = cfg.EtcdInitialClusterState
	ec.UnsafeNoFsync = cfg.unsafeNoFsync
	// Watches resume from a revision; keep an hour of history so a router or
	// agent that reconnects quickly need not re-list.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "1h"
	return ec
}

// waitQuorum waits until the member serves, which needs a quorum of the
// cluster's members, saying every cfg.etcdWaitLog what it waits for, and gives
// up after etcdQuorumTimeout.
func waitQuorum(ctx context.Context, e *embed.Etcd, cfg Config, m etcdMember) error {
	deadline := time.NewTimer(etcdQuorumTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(cfg.etcdWaitLog)
	defer tick.Stop()
	need := len(m.peers)/2 + 1
	for {
		select {
		case <-e.Server.ReadyNotify():
			return nil
		case err := <-e.Err():
			return fmt.Errorf("embedded etcd in %s: %w", cfg.DataDir, err)
		case <-ctx.Done():
			return fmt.Errorf("embedded etcd in %s: stopped while waiting for its quorum: %w", cfg.DataDir, ctx.Err())
		case <-tick.C:
			cfg.Logger.Info("waiting for an etcd quorum: start the other control planes",
				"member", cfg.EtcdName, "need", need, "members", m.initialCluster(),
				"not_answering", m.silentPeers(ctx, cfg.EtcdName))
		case <-deadline.C:
			return fmt.Errorf("embedded etcd member %s: no quorum (%d of %d members) after %s; not answering: %v. "+
				"Start the other control planes, and check that --etcd-initial-cluster names their peer URLs "+
				"as they advertise them (--etcd-peer-advertise-url)", cfg.EtcdName, need, len(m.peers),
				etcdQuorumTimeout, m.silentPeers(ctx, cfg.EtcdName))
		}
	}
}

// checkDataDir makes sure dir exists and is a writable directory, so a bad
// path is reported as such rather than as an etcd internal error.
func checkDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("%w: etcd data dir %s: %v", errInvalid, dir, err)
	}
	probe, err := os.CreateTemp(dir, ".zaki-probe-*")
	if err != nil {
		return fmt.Errorf("%w: etcd data dir %s is not writable: %v", errInvalid, dir, err)
	}
	probe.Close()
	return os.Remove(filepath.Clean(probe.Name()))
}

// checkFree reports a clear error when hostport is already taken.
func checkFree(which, hostport, flag string) error {
	ln, err := net.Listen("tcp", hostport)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return inUse(which, hostport, flag)
		}
		return fmt.Errorf("%w: etcd %s address %s: %v", errInvalid, which, hostport, err)
	}
	return ln.Close()
}

func inUse(which, hostport, flag string) error {
	return fmt.Errorf("etcd %s port %s is in use: is another zaki controlplane running? use %s",
		which, hostport, flag)
}

// etcdSyncInterval is how often a replica with an embedded member relearns
// the members' client URLs.
const etcdSyncInterval = 30 * time.Second

// newEtcdClient connects to endpoints and checks that etcd answers. With
// sync set (an embedded member, whose only known endpoint is itself), it
// then learns every member's client URL and keeps relearning them, so that
// when its own member cannot serve, its requests go to the others.
func newEtcdClient(ctx context.Context, endpoints []string, sync bool, log hclog.Logger) (*clientv3.Client, error) {
	cfg := clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zap.NewNop(),
	}
	if sync {
		cfg.AutoSyncInterval = etcdSyncInterval
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	if err := pingEtcd(ctx, cli); err != nil {
		cli.Close()
		return nil, err
	}
	if sync {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := cli.Sync(sctx); err != nil {
			log.Warn("could not learn the other etcd members' client URLs; will retry", "error", err)
		}
	}
	return cli, nil
}

// pingEtcd is one linearizable read with a short deadline.
func pingEtcd(ctx context.Context, cli *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Get(ctx, botIDKey); err != nil {
		return fmt.Errorf("%w: %v: %w", errUnavailable, cli.Endpoints(), err)
	}
	return nil
}
