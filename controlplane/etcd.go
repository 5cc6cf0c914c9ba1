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

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// etcdReadyTimeout bounds how long an embedded etcd may take to serve.
const etcdReadyTimeout = 60 * time.Second

// startEmbedded starts a single-member etcd in cfg.DataDir and returns it once
// it serves clients.
func startEmbedded(cfg Config, elog *etcdLog) (*embed.Etcd, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: no etcd data dir and no etcd endpoints: set one", errInvalid)
	}
	if err := checkDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	clientURL, err := url.Parse(cfg.EtcdClientURL)
	if err != nil {
		return nil, fmt.Errorf("%w: etcd client url %q: %v", errInvalid, cfg.EtcdClientURL, err)
	}
	peerURL, err := url.Parse(cfg.EtcdPeerURL)
	if err != nil {
		return nil, fmt.Errorf("%w: etcd peer url %q: %v", errInvalid, cfg.EtcdPeerURL, err)
	}
	if err := checkFree("client", clientURL.Host, "--etcd-client-url"); err != nil {
		return nil, err
	}
	if err := checkFree("peer", peerURL.Host, "--etcd-peer-url"); err != nil {
		return nil, err
	}

	ec := embed.NewConfig()
	ec.Name = "zaki"
	ec.Dir = cfg.DataDir
	ec.LogLevel = "error"
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(elog.zap())
	ec.ListenClientUrls = []url.URL{*clientURL}
	ec.AdvertiseClientUrls = []url.URL{*clientURL}
	ec.ListenPeerUrls = []url.URL{*peerURL}
	ec.AdvertisePeerUrls = []url.URL{*peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.UnsafeNoFsync = cfg.unsafeNoFsync
	// Watches resume from a revision; keep an hour of history so a router or
	// agent that reconnects quickly need not re-list.
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = "1h"

	e, err := embed.StartEtcd(ec)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, inUse("client or peer", clientURL.Host+" / "+peerURL.Host, "--etcd-client-url")
		}
		return nil, fmt.Errorf("start embedded etcd in %s: %w", cfg.DataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s: %w", cfg.DataDir, err)
	case <-time.After(etcdReadyTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after %s", cfg.DataDir, etcdReadyTimeout)
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

// newEtcdClient connects to endpoints and checks that etcd answers.
func newEtcdClient(ctx context.Context, endpoints []string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	if err := pingEtcd(ctx, cli); err != nil {
		cli.Close()
		return nil, err
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
