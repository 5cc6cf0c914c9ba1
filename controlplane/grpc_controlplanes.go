package controlplane

import (
	"context"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// ListControlPlanes is the admin adapter over Controller.ListControlPlanes;
// it lives apart from grpc_services.go only to keep edits to that file apart.
func (s *adminServer) ListControlPlanes(ctx context.Context, _ *zakiv1.ListControlPlanesRequest,
) (*zakiv1.ListControlPlanesResponse, error) {
	cps, err := s.c.ListControlPlanes(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.ListControlPlanesResponse{ControlPlanes: cps}, nil
}
