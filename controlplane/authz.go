package controlplane

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// anyRole, in the policy, admits any valid, unrevoked certificate; noCert
// admits calls without one.
const (
	anyRole pki.Role = "*"
	noCert  pki.Role = ""
)

// policy is who may call what, by method prefix. A control plane's own
// certificate may call everything (replicas, and tests that play every
// role over one connection); no token can make one. A method matching no
// entry is refused.
var policy = []struct {
	prefix string
	role   pki.Role
}{
	{"/zaki.v1.JoinService/Join", noCert},
	{"/grpc.health.v1.Health/", noCert},
	{"/zaki.v1.JoinService/Renew", anyRole},
	{"/zaki.v1.AgentService/", pki.RoleAgent},
	{"/zaki.v1.TenantService/", pki.RoleRouter},
	{"/zaki.v1.AdminService/", pki.RoleAdmin},
}

// caller is the verified identity behind a call.
type caller struct {
	pki.Identity
	cert *x509.Certificate
}

type callerKey struct{}

// callerOf returns the caller the interceptor admitted; false for calls
// that needed no certificate.
func callerOf(ctx context.Context) (caller, bool) {
	c, ok := ctx.Value(callerKey{}).(caller)
	return c, ok
}

// authorize admits or refuses one call: Unauthenticated without a valid,
// unrevoked client certificate, PermissionDenied for the wrong role.
func (t *trust) authorize(ctx context.Context, method string) (context.Context, error) {
	need, known := requiredRole(method)
	if !known {
		return nil, status.Errorf(codes.PermissionDenied, "%s is not open to anyone", method)
	}
	if need == noCert {
		return ctx, nil
	}
	who, err := t.verifiedCaller(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unauthenticated, "%s needs a client certificate of this cluster: %v",
			method, err)
	}
	if need != anyRole && who.Role != need && who.Role != pki.RoleControlPlane {
		return nil, status.Errorf(codes.PermissionDenied, "%s may not call %s: it needs role %s",
			who.Identity, method, need)
	}
	return context.WithValue(ctx, callerKey{}, who), nil
}

func requiredRole(method string) (pki.Role, bool) {
	for _, p := range policy {
		if strings.HasPrefix(method, p.prefix) {
			return p.role, true
		}
	}
	return noCert, false
}

// verifiedCaller reads the certificate TLS verified at the handshake and
// checks it against the revoked serials, on every call: a revocation ends
// new calls on old connections too.
func (t *trust) verifiedCaller(ctx context.Context) (caller, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return caller{}, fmt.Errorf("no peer")
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return caller{}, fmt.Errorf("none was presented (join the cluster first: " +
			"`zaki agent --join ADDR --token T`; operators use the admin credentials)")
	}
	leaf := info.State.VerifiedChains[0][0]
	id, err := pki.IdentityOf(leaf)
	if err != nil {
		return caller{}, err
	}
	if t.revoked.has(pki.SerialString(leaf)) {
		return caller{}, fmt.Errorf("the certificate of %s was revoked (its node was removed): "+
			"join again with a new token", id)
	}
	return caller{Identity: id, cert: leaf}, nil
}

// authUnary is the unary interceptor of authorize.
func (t *trust) authUnary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := t.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
}

// authStream is the stream interceptor of authorize. An agent's session
// may only register the node its certificate names. A stream ends when its
// caller's certificate is revoked: a revoked router must not go on hearing
// the routes (and their secrets) on a stream it opened before.
func (t *trust) authStream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := t.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		who, ok := callerOf(ctx)
		if !ok {
			return h(srv, &authedStream{ServerStream: ss, ctx: ctx})
		}
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		go t.cancelOnRevoke(ctx, cancel, who)
		err = h(srv, &authedStream{ServerStream: ss, ctx: ctx})
		if cause := context.Cause(ctx); ctx.Err() != nil && status.Code(cause) == codes.Unauthenticated {
			return cause
		}
		return err
	}
}

// cancelOnRevoke cancels ctx, with an Unauthenticated cause, once who's
// certificate is revoked or expires (a handshake checks expiry only when a
// stream opens; a member renews well before, and its next stream carries
// the renewed certificate); it returns when ctx ends.
func (t *trust) cancelOnRevoke(ctx context.Context, cancel context.CancelCauseFunc, who caller) {
	serial := pki.SerialString(who.cert)
	expired := time.NewTimer(time.Until(who.cert.NotAfter))
	defer expired.Stop()
	for {
		changed := t.revoked.changes()
		if t.revoked.has(serial) {
			cancel(status.Errorf(codes.Unauthenticated, "the certificate of %s was revoked: join again "+
				"with a new token", who.Identity))
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-expired.C:
			cancel(status.Errorf(codes.Unauthenticated, "the certificate of %s expired at %s: it should "+
				"have renewed at about two thirds of its life; join again with a new token if it could not",
				who.Identity, who.cert.NotAfter.UTC().Format(time.RFC3339)))
			return
		}
	}
}

// authedStream carries the caller and checks every Register on the stream.
type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authedStream) Context() context.Context { return s.ctx }

func (s *authedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	req, ok := m.(*zakiv1.SessionRequest)
	if !ok || req.GetRegister() == nil {
		return nil
	}
	return checkRegister(s.ctx, req.GetRegister().GetNode().GetId())
}

// checkRegister refuses an agent registering a node other than its own.
func checkRegister(ctx context.Context, nodeID string) error {
	who, ok := callerOf(ctx)
	if !ok || who.Role == pki.RoleControlPlane || who.ID == nodeID {
		return nil
	}
	return status.Errorf(codes.PermissionDenied, "%s may not register as node %q: its certificate is for node %q",
		who.Identity, nodeID, who.ID)
}
