package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
)

// gracefulStop bounds how long in-flight calls get when the server stops.
const gracefulStop = 5 * time.Second

// Server is a running control plane: etcd (embedded or a client of an
// external cluster), the Controller and its gRPC server.
type Server struct {
	*Controller

	cli     *clientv3.Client
	etcd    *embed.Etcd // nil with an external cluster
	etcdLog *etcdLog    // the embedded etcd's errors, into the control plane's log
	grpc    *grpc.Server
	health  *health.Server
	addr    string

	done chan struct{} // closed when everything has stopped
	mu   sync.Mutex
	err  error // guarded by mu; the first error that stopped the server
}

// Start starts etcd (unless cfg names an external cluster), then serves
// gRPC on cfg.GRPCListen. It returns once etcd answers and gRPC listens; the
// server stops when ctx ends (see Wait).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{done: make(chan struct{})}
	endpoints := cfg.EtcdEndpoints
	if len(endpoints) == 0 {
		s.etcdLog = newEtcdLog(cfg.Logger)
		e, err := startEmbedded(cfg, s.etcdLog)
		if err != nil {
			return nil, err
		}
		s.etcd = e
		endpoints = []string{cfg.EtcdClientURL}
	}
	cli, err := newEtcdClient(ctx, endpoints)
	if err != nil {
		s.closeEtcd()
		return nil, err
	}
	s.cli = cli
	ln, err := net.Listen("tcp", cfg.GRPCListen)
	if err != nil {
		cli.Close()
		s.closeEtcd()
		return nil, fmt.Errorf("grpc listen on %s: %w", cfg.GRPCListen, err)
	}
	s.addr = ln.Addr().String()
	tr, err := newTrust(ctx, cli, cfg, s.addr)
	if err != nil {
		ln.Close()
		cli.Close()
		s.closeEtcd()
		return nil, err
	}
	s.Controller = newController(ctx, cli, cfg, newMetrics(cfg.Registry))
	s.Controller.useTrust(tr)
	s.health = health.NewServer()
	s.grpc = newGRPCServer(s.Controller, cfg.Logger, s.health)
	go s.run(ctx, ln, cfg.pendingRetry)
	cfg.Logger.Info("control plane serving", "addr", s.addr, "etcd", endpoints)
	return s, nil
}

// run serves until ctx ends, then stops everything in order: gRPC, the
// etcd client, the embedded etcd.
func (s *Server) run(ctx context.Context, ln net.Listener, pendingRetry time.Duration) {
	defer close(s.done)
	var wg sync.WaitGroup
	wg.Go(func() { s.Controller.runPending(ctx, pendingRetry) })
	wg.Go(func() { s.Controller.runHeartbeats(ctx) })
	wg.Go(func() { s.trust.revoked.watch(ctx, s.cli, s.log) })
	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(ln) }()
	var etcdErr <-chan error
	if s.etcd != nil {
		etcdErr = s.etcd.Err()
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		s.setErr(fmt.Errorf("grpc server on %s: %w", s.addr, err))
	case err := <-etcdErr:
		s.setErr(fmt.Errorf("embedded etcd: %w", err))
	}
	s.health.Shutdown()
	s.stopGRPC()
	wg.Wait()
	s.cli.Close()
	s.closeEtcd()
	s.log.Info("control plane stopped")
}

// stopGRPC lets in-flight calls finish for a while, then cuts them.
func (s *Server) stopGRPC() {
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	t := time.NewTimer(gracefulStop)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		s.grpc.Stop()
		<-stopped
	}
}

func (s *Server) closeEtcd() {
	if s.etcd != nil {
		s.etcdLog.closing.Store(true)
		s.etcd.Close()
	}
}

func (s *Server) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// Addr is the bound gRPC address, with the real port when GRPCListen asked
// for port 0.
func (s *Server) Addr() string { return s.addr }

// Ready returns nil while etcd answers and gRPC serves.
func (s *Server) Ready() error {
	select {
	case <-s.done:
		return errors.New("control plane stopped")
	default:
	}
	return pingEtcd(context.Background(), s.cli)
}

// Wait blocks until the server has fully stopped (gRPC stopped, embedded
// etcd closed) and returns what stopped it, or nil when its context ended.
func (s *Server) Wait() error {
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
