package controlplane

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-hclog"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// newGRPCServer builds the control plane's gRPC server: the interceptor
// chain and every service, on one screen. Every connection is TLS with the
// cluster CA; every call but Join and health needs a client certificate of
// the right role (authz.go), and fails Unavailable while this replica
// cannot reach etcd (etcdgate.go).
func newGRPCServer(c *Controller, log hclog.Logger, hs *health.Server) *grpc.Server {
	srv := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(c.trust.serverTLS())),
		grpc.ChainUnaryInterceptor(recoverUnary(log), logUnary(log), c.trust.authUnary(), c.gate.unary()),
		grpc.ChainStreamInterceptor(recoverStream(log), logStream(log), c.trust.authStream(), c.gate.stream()),
		// Agents and routers hold streams open for hours; let idle ones ping.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime: 5 * time.Second, PermitWithoutStream: true}), // below cpdial.Keepalive.Time (10s)
	)
	zakiv1.RegisterAgentServiceServer(srv, &agentServer{c: c})
	zakiv1.RegisterTenantServiceServer(srv, &tenantServer{c: c})
	zakiv1.RegisterAdminServiceServer(srv, &adminServer{c: c})
	zakiv1.RegisterJoinServiceServer(srv, &joinServer{c: c})
	healthpb.RegisterHealthServer(srv, hs)
	return srv
}

// logUnary logs every call at Debug with its outcome.
func logUnary(log hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo,
		h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		log.Debug("grpc call", "method", info.FullMethod, "code", status.Code(err).String(),
			"took", time.Since(start), "error", err)
		return resp, err
	}
}

func logStream(log hclog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		err := h(srv, ss)
		log.Debug("grpc stream ended", "method", info.FullMethod, "code", status.Code(err).String(),
			"error", err)
		return err
	}
}

// recoverUnary turns a panic in a handler into Internal instead of taking
// the control plane down.
func recoverUnary(log hclog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo,
		h grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicked(log, info.FullMethod, r)
			}
		}()
		return h(ctx, req)
	}
}

func recoverStream(log hclog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo,
		h grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = panicked(log, info.FullMethod, r)
			}
		}()
		return h(srv, ss)
	}
}

func panicked(log hclog.Logger, method string, r any) error {
	log.Error("grpc handler panicked", "method", method, "error", fmt.Sprint(r),
		"stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}
