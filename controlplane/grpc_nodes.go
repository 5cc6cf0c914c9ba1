package controlplane

import (
	"context"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// The node-lifecycle adapters of the admin service: validate, call the
// Controller, map the error.

func (s *adminServer) SetNodeState(ctx context.Context, req *zakiv1.SetNodeStateRequest,
) (*zakiv1.SetNodeStateResponse, error) {
	if err := validateSetNodeState(req); err != nil {
		return nil, toStatus(err)
	}
	n, err := s.c.SetNodeState(ctx, req.NodeId, req.State)
	if err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.SetNodeStateResponse{Node: n}, nil
}

func (s *adminServer) RemoveNode(ctx context.Context, req *zakiv1.RemoveNodeRequest,
) (*zakiv1.RemoveNodeResponse, error) {
	if err := validateRemoveNode(req); err != nil {
		return nil, toStatus(err)
	}
	if err := s.c.RemoveNode(ctx, req.NodeId, req.Force); err != nil {
		return nil, toStatus(err)
	}
	return &zakiv1.RemoveNodeResponse{}, nil
}
