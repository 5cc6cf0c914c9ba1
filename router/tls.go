package router

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/zaki-platform/zaki/internal/cpdial"
	"github.com/zaki-platform/zaki/internal/member"
	"github.com/zaki-platform/zaki/internal/pki"
)

// dialControlPlane connects to the control plane with mutual TLS, joining
// the cluster with JoinToken first when StateDir holds no credentials yet.
// Without a StateDir it dials plaintext (tests against a fake only).
func (r *Router) dialControlPlane(ctx context.Context) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if r.cfg.StateDir != "" {
		c, err := member.Ensure(ctx, member.Options{Dir: r.cfg.StateDir, Role: pki.RoleRouter,
			JoinAddr: r.cfg.ControlPlane, Token: r.cfg.JoinToken, Logger: r.log})
		if err != nil {
			return nil, err
		}
		r.creds, creds = c, c.TransportCredentials()
	}
	return cpdial.Dial(cpdial.Split(r.cfg.ControlPlane), creds)
}

// startRenewal renews the router's certificate until ctx ends.
func (r *Router) startRenewal(ctx context.Context) {
	if r.creds == nil {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.creds.RunRenewal(ctx, r.cfg.ControlPlane, r.log)
	}()
}
