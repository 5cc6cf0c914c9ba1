package controlplane

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zaki-platform/zaki/internal/every"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// errEtcdUnreachable ends calls on a replica that cannot reach etcd. It is
// Unavailable, so that clients retry, on another replica.
var errEtcdUnreachable = fmt.Errorf("%w: this control plane cannot reach etcd; retry on another replica",
	errUnavailable)

// etcdGate is this replica's judgement of whether etcd answers it. Every
// call needs etcd, so while it does not, gRPC health says NOT_SERVING
// (clients that watch health, as cpdial's do, then use another replica),
// new calls fail Unavailable at once, and the calls and streams in flight
// end Unavailable, so that agents and routers reconnect elsewhere rather
// than wait on a replica that cannot answer. Health itself is never gated.
type etcdGate struct {
	log    hclog.Logger
	health *health.Server

	mu sync.Mutex
	// down is why etcd does not answer, since when; nil while it does.
	down  error
	since time.Time
	// serving ends, with errEtcdUnreachable as its cause, when etcd stops
	// answering; a new one replaces it when etcd answers again.
	serving context.Context
	stop    context.CancelCauseFunc
}

func newEtcdGate(log hclog.Logger, hs *health.Server) *etcdGate {
	g := &etcdGate{log: log, health: hs}
	g.serving, g.stop = context.WithCancelCause(context.Background())
	return g
}

// run probes etcd every period until ctx ends. A probe waits at most
// twice the period, and never less than 2s, so a slow moment under load is
// not taken for an outage.
func (g *etcdGate) run(ctx context.Context, cli *clientv3.Client, period time.Duration) {
	timeout := max(2*period, 2*time.Second)
	every.Run(ctx, period, func(ctx context.Context) {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := cli.Get(pctx, botIDKey)
		if ctx.Err() != nil {
			return
		}
		g.set(err)
	})
}

// set records a probe's outcome and acts on a change.
func (g *etcdGate) set(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err != nil && g.down == nil:
		g.down, g.since = err, time.Now()
		g.stop(errEtcdUnreachable)
		g.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		g.log.Warn("etcd does not answer: failing calls until it does", "error", err)
	case err == nil && g.down != nil:
		g.log.Info("etcd answers again", "after", time.Since(g.since).Round(time.Millisecond))
		g.down = nil
		g.serving, g.stop = context.WithCancelCause(context.Background())
		g.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	}
}

// isDown reports whether etcd does not answer this replica now.
func (g *etcdGate) isDown() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.down != nil
}

// current is the serving context, or the error to fail a call with.
func (g *etcdGate) current() (context.Context, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down != nil {
		return nil, toStatus(fmt.Errorf("%w (since %s: %v)", errEtcdUnreachable,
			g.since.UTC().Format(time.RFC3339), g.down))
	}
	return g.serving, nil
}

// bind returns ctx, also ended when serving ends, and its release.
func bind(ctx, serving context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(serving, func() { cancel(context.Cause(serving)) })
	return ctx, func() { stop(); cancel(nil) }
}

// explain turns the error of a call that the gate ended into Unavailable.
func explain(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, errEtcdUnreachable) {
		return toStatus(cause)
	}
	return err
}

func gated(method string) bool { return !strings.HasPrefix(method, "/grpc.health.v1.Health/") }

func (g *etcdGate) unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if !gated(info.FullMethod) {
			return h(ctx, req)
		}
		serving, err := g.current()
		if err != nil {
			return nil, err
		}
		ctx, release := bind(ctx, serving)
		defer release()
		resp, err := h(ctx, req)
		return resp, explain(ctx, err)
	}
}

func (g *etcdGate) stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if !gated(info.FullMethod) {
			return h(srv, ss)
		}
		serving, err := g.current()
		if err != nil {
			return err
		}
		ctx, release := bind(ss.Context(), serving)
		defer release()
		return explain(ctx, h(srv, &gatedStream{ServerStream: ss, ctx: ctx}))
	}
}

// gatedStream is a server stream whose context the gate may end.
type gatedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *gatedStream) Context() context.Context { return s.ctx }
