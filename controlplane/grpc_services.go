package controlplane

import (
	"context"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/grpc"
)

// The gRPC adapters: validate, call the Controller, map the error.

var (
	_ zakiv1.AgentServiceServer  = (*agentServer)(nil)
	_ zakiv1.TenantServiceServer = (*tenantServer)(nil)
	_ zakiv1.AdminServiceServer  = (*adminServer)(nil)
)

type agentServer struct {
	zakiv1.UnimplementedAgentServiceServer
	c *Controller
}

func (s *agentServer) Session(stream grpc.BidiStreamingServer[zakiv1.SessionRequest, zakiv1.SessionResponse]) error {
	ctx, cancel := s.c.streamContext(stream.Context())
	defer cancel()
	return toStatus(s.c.Session(ctx, stream))
}

type tenantServer struct {
	zakiv1.UnimplementedTenantServiceServer
	c *Controller
}

func (s *tenantServer) SetBot(ctx context.Context, req *zakiv1.SetBotRequest,
) (*zakiv1.SetBotResponse, error) {
	if err := validateSetBot(req); err != nil {
		return nil, toStatus(err)
	}
	if err := s.c.SetBot(ctx, req.BotId); err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.SetBotResponse{}, nil
}

func (s *tenantServer) EnsureTenant(ctx context.Context, req *zakiv1.EnsureTenantRequest,
) (*zakiv1.EnsureTenantResponse, error) {
	if err := validateEnsure(req); err != nil {
		return nil, toStatus(err)
	}
	route, created, err := s.c.EnsureTenant(ctx, req)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.EnsureTenantResponse{Route: route, Created: created}, nil
}

func (s *tenantServer) BindChat(ctx context.Context, req *zakiv1.BindChatRequest,
) (*zakiv1.BindChatResponse, error) {
	if err := validateBind(req); err != nil {
		return nil, toStatus(err)
	}
	route, err := s.c.BindChat(ctx, req.ChatId, req.TenantId)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.BindChatResponse{Route: route}, nil
}

func (s *tenantServer) WatchRoutes(_ *zakiv1.WatchRoutesRequest, stream grpc.ServerStreamingServer[zakiv1.WatchRoutesResponse]) error {
	ctx, cancel := s.c.streamContext(stream.Context())
	defer cancel()
	return toStatus(s.c.WatchRoutes(ctx, stream.Send))
}

func (s *tenantServer) ParkUpdate(ctx context.Context, req *zakiv1.ParkUpdateRequest,
) (*zakiv1.ParkUpdateResponse, error) {
	if err := validatePark(req); err != nil {
		return nil, toStatus(err)
	}
	parked, err := s.c.ParkUpdate(ctx, req.Update)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.ParkUpdateResponse{Parked: parked}, nil
}

func (s *tenantServer) ListParked(ctx context.Context, req *zakiv1.ListParkedRequest,
) (*zakiv1.ListParkedResponse, error) {
	if req.TenantId == "" {
		ids, err := s.c.ListParkedTenants(ctx)
		if err != nil {
			return nil, toStatus(err)
		}
		return &zakiv1.ListParkedResponse{TenantIds: ids}, nil
	}
	updates, err := s.c.ListParked(ctx, req.TenantId, req.Limit)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.ListParkedResponse{Updates: updates}, nil
}

func (s *tenantServer) AckParked(ctx context.Context, req *zakiv1.AckParkedRequest,
) (*zakiv1.AckParkedResponse, error) {
	if err := validateAck(req); err != nil {
		return nil, toStatus(err)
	}
	if err := s.c.AckParked(ctx, req.TenantId, req.UpdateIds); err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.AckParkedResponse{}, nil
}

type adminServer struct {
	zakiv1.UnimplementedAdminServiceServer
	c *Controller
}

func (s *adminServer) ListNodes(ctx context.Context, _ *zakiv1.ListNodesRequest,
) (*zakiv1.ListNodesResponse, error) {
	nodes, err := s.c.ListNodes(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.ListNodesResponse{Nodes: nodes}, nil
}

func (s *adminServer) ListTenants(ctx context.Context, _ *zakiv1.ListTenantsRequest,
) (*zakiv1.ListTenantsResponse, error) {
	tenants, err := s.c.ListTenants(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.ListTenantsResponse{Tenants: tenants}, nil
}

func (s *adminServer) MoveTenant(ctx context.Context, req *zakiv1.MoveTenantRequest,
) (*zakiv1.MoveTenantResponse, error) {
	if err := validateMoveTenant(req); err != nil {
		return nil, toStatus(err)
	}
	p, err := s.c.MoveTenant(ctx, req.TenantId, req.ToNodeId)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.MoveTenantResponse{Placement: p}, nil
}
