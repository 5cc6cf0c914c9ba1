package controlplane

import (
	"context"
	"errors"
	"fmt"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var _ zakiv1.JoinServiceServer = (*joinServer)(nil)

type joinServer struct {
	zakiv1.UnimplementedJoinServiceServer
	c *Controller
}

func (s *joinServer) Join(ctx context.Context, req *zakiv1.JoinRequest) (*zakiv1.JoinResponse, error) {
	if req.Token == "" || len(req.CsrDer) == 0 {
		return nil, status.Error(codes.InvalidArgument, "join needs a token and a certificate request")
	}
	cert, role, err := s.c.Join(ctx, req.Token, req.CsrDer, req.NodeId)
	if err != nil {
		return nil, trustStatus(err)
	}
	return &zakiv1.JoinResponse{CertDer: cert.Raw, CaDer: s.c.trust.ca.Cert.Raw, Role: role,
		NotAfter: timestamppb.New(cert.NotAfter)}, nil
}

func (s *joinServer) Renew(ctx context.Context, req *zakiv1.RenewRequest) (*zakiv1.RenewResponse, error) {
	if len(req.CsrDer) == 0 {
		return nil, status.Error(codes.InvalidArgument, "renew needs a certificate request")
	}
	who, ok := callerOf(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "renew needs the current certificate")
	}
	cert, err := s.c.Renew(ctx, who.Identity, req.CsrDer)
	if err != nil {
		return nil, trustStatus(err)
	}
	return &zakiv1.RenewResponse{CertDer: cert.Raw, CaDer: s.c.trust.ca.Cert.Raw,
		NotAfter: timestamppb.New(cert.NotAfter)}, nil
}

func (s *adminServer) CreateJoinToken(ctx context.Context, req *zakiv1.CreateJoinTokenRequest,
) (*zakiv1.CreateJoinTokenResponse, error) {
	if err := validateCreateToken(req); err != nil {
		return nil, toStatus(err)
	}
	token, info, err := s.c.CreateJoinToken(ctx, req.Role, req.Ttl.AsDuration(), req.Description)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.CreateJoinTokenResponse{Token: token, Info: info, JoinAddress: s.c.trust.joinAddr}, nil
}

func (s *adminServer) ListJoinTokens(ctx context.Context, _ *zakiv1.ListJoinTokensRequest,
) (*zakiv1.ListJoinTokensResponse, error) {
	tokens, err := s.c.ListJoinTokens(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.ListJoinTokensResponse{Tokens: tokens}, nil
}

func (s *adminServer) RevokeJoinToken(ctx context.Context, req *zakiv1.RevokeJoinTokenRequest,
) (*zakiv1.RevokeJoinTokenResponse, error) {
	if req.Id == "" {
		return nil, toStatus(fmt.Errorf("%w: token id is required", errInvalid))
	}
	if err := s.c.RevokeJoinToken(ctx, req.Id); err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.RevokeJoinTokenResponse{}, nil
}

// validateCreateToken: a role that can join (not a control plane's), and a
// positive ttl when one is given.
func validateCreateToken(req *zakiv1.CreateJoinTokenRequest) error {
	switch req.Role {
	case zakiv1.Role_ROLE_AGENT, zakiv1.Role_ROLE_ROUTER, zakiv1.Role_ROLE_ADMIN:
	default:
		return fmt.Errorf("%w: a join token's role is agent, router or admin, not %v", errInvalid, req.Role)
	}
	if req.Ttl != nil && req.Ttl.AsDuration() <= 0 {
		return fmt.Errorf("%w: ttl must be positive", errInvalid)
	}
	return nil
}

// trustStatus maps join errors: a refused token is Unauthenticated; the
// rest as everywhere else.
func trustStatus(err error) error {
	if errors.Is(err, errJoinRefused) {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	return toStatus(err)
}

func (s *adminServer) ListMembers(ctx context.Context, _ *zakiv1.ListMembersRequest,
) (*zakiv1.ListMembersResponse, error) {
	members, err := s.c.ListMembers(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.ListMembersResponse{Members: members}, nil
}

func (s *adminServer) RevokeMember(ctx context.Context, req *zakiv1.RevokeMemberRequest,
) (*zakiv1.RevokeMemberResponse, error) {
	if err := validateRevokeMember(req); err != nil {
		return nil, toStatus(err)
	}
	who, ok := callerOf(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "revoking a member needs the operator's certificate")
	}
	n, err := s.c.RevokeMember(ctx, who.Identity, req.Id)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.RevokeMemberResponse{Revoked: uint32(n)}, nil
}
