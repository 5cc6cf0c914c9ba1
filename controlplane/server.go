package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.etcd.io/etcd/server/v3/embed"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	"google.golang.org/protobuf/types/known/timestamppb"
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
	// etcdHardStop is Config.etcdHardStop.
	etcdHardStop bool
	grpc         *grpc.Server
	health       *health.Server
	addr         string

	done chan struct{} // closed when everything has stopped
	mu   sync.Mutex
	err  error // guarded by mu; the first error that stopped the server
}

// Start starts etcd (unless cfg names an external cluster), joins the
// control-plane replicas (an etcd session, the registry, the election),
// then serves gRPC on cfg.GRPCListen. It returns once etcd answers, gRPC
// listens and a leader is known (this replica or another; it gives up
// waiting after twice ReplicaTTL); the server stops when ctx ends (see
// Wait).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := checkReplicaID(cfg.ID); err != nil {
		return nil, err
	}
	s := &Server{done: make(chan struct{}), etcdHardStop: cfg.etcdHardStop}
	endpoints, sync := cfg.EtcdEndpoints, false
	if len(endpoints) == 0 {
		s.etcdLog = newEtcdLog(cfg.Logger)
		e, m, err := startEmbedded(ctx, cfg, s.etcdLog)
		if err != nil {
			return nil, err
		}
		s.etcd = e
		endpoints, sync = []string{m.localClientURL()}, true
	}
	cli, err := newEtcdClient(ctx, endpoints, sync, cfg.Logger)
	if err != nil {
		s.closeEtcd()
		return nil, err
	}
	s.cli = cli
	ln, err := net.Listen("tcp", cfg.GRPCListen)
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("grpc listen on %s: %w", cfg.GRPCListen, err)
	}
	s.addr = ln.Addr().String()
	first, err := s.join(ctx, cfg)
	if err != nil {
		ln.Close()
		s.closeAll()
		return nil, err
	}
	s.health = health.NewServer()
	s.gate = newEtcdGate(cfg.Logger, s.health)
	s.grpc = newGRPCServer(s.Controller, cfg.Logger, s.health)
	go s.run(ctx, ln, first, cfg.etcdProbe)
	s.awaitLeader(ctx, 2*cfg.ReplicaTTL)
	cfg.Logger.Info("control plane serving", "id", cfg.ID, "addr", s.addr, "etcd", endpoints,
		"leader", s.rep.leading())
	return s, nil
}

// join loads the cluster's trust, builds the Controller and opens this
// replica's first etcd session, registered.
func (s *Server) join(ctx context.Context, cfg Config) (*concurrency.Session, error) {
	tr, err := newTrust(ctx, s.cli, cfg, s.addr)
	if err != nil {
		return nil, err
	}
	s.Controller = newController(ctx, s.cli, cfg, newMetrics(cfg.Registry))
	s.Controller.useTrust(tr)
	addr := tr.joinAddr
	if addr == "" {
		addr = s.addr
	}
	s.rep = newReplica(&zakiv1.ControlPlane{Id: cfg.ID, GrpcAddress: addr,
		StartedAt: timestamppb.New(cfg.Now()), Version: version.Version}, cfg.ReplicaTTL)
	return s.openSession(ctx)
}

// awaitLeader waits, at most limit, until a leader is known, so that a
// single control plane leads by the time Start returns.
func (s *Server) awaitLeader(ctx context.Context, limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-s.rep.decided:
	case <-ctx.Done():
	case <-t.C:
		s.log.Warn("no control plane leads yet; serving anyway, scheduling waits for a leader",
			"waited", limit)
	}
}

// run serves until ctx ends, then stops everything in order: gRPC, this
// replica's session (handing leadership on at once), the etcd client, the
// embedded etcd.
func (s *Server) run(ctx context.Context, ln net.Listener, first *concurrency.Session, probe time.Duration) {
	defer close(s.done)
	var wg sync.WaitGroup
	wg.Go(func() { s.alive.watch(ctx, s.cli, s.log) })
	wg.Go(func() { s.gate.run(ctx, s.cli, probe) })
	wg.Go(func() { s.runReplica(ctx, first, s.leaderLoops) })
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

// closeAll closes the etcd client and the embedded etcd, for a failed
// start.
func (s *Server) closeAll() {
	s.cli.Close()
	s.closeEtcd()
}

func (s *Server) closeEtcd() {
	if s.etcd != nil {
		s.etcdLog.closing.Store(true)
		if s.etcdHardStop {
			s.etcd.Server.HardStop()
		}
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
