package main

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// moveReplicas answers MoveTenant with its errors in turn (nil: the move
// starts) and ListTenants with listing, as the replicas a round-robin
// connection reaches would.
type moveReplicas struct {
	zakiv1.AdminServiceClient
	answers []error
	listing *zakiv1.Placement
	moves   int
	lists   int
}

func (r *moveReplicas) MoveTenant(_ context.Context, in *zakiv1.MoveTenantRequest, _ ...grpc.CallOption,
) (*zakiv1.MoveTenantResponse, error) {
	err := r.answers[r.moves]
	r.moves++
	if err != nil {
		return nil, err
	}
	return &zakiv1.MoveTenantResponse{Placement: &zakiv1.Placement{TenantId: in.TenantId, NodeId: "node-a",
		Generation: 4, Move: &zakiv1.Move{ToNodeId: in.ToNodeId}}}, nil
}

func (r *moveReplicas) ListTenants(context.Context, *zakiv1.ListTenantsRequest, ...grpc.CallOption,
) (*zakiv1.ListTenantsResponse, error) {
	r.lists++
	return &zakiv1.ListTenantsResponse{Tenants: []*zakiv1.TenantStatus{
		{Tenant: &zakiv1.Tenant{Id: "42"}, Placement: r.listing}}}, nil
}

// TestMoveStartReachesTheLeader: a replica that does not lead refuses a move
// Unavailable; the step is made again until the leader starts it, and after
// such a refusal, "already moving there" is the move an earlier call started.
func TestMoveStartReachesTheLeader(t *testing.T) {
	notLeader := status.Error(codes.Unavailable, "etcd unavailable: this control plane does not lead; cp2 at cp2:7400 does")
	moving := &zakiv1.Placement{TenantId: "42", NodeId: "node-a", Generation: 4,
		Move: &zakiv1.Move{ToNodeId: "node-b"}}
	elsewhere := &zakiv1.Placement{TenantId: "42", NodeId: "node-a", Generation: 4,
		Move: &zakiv1.Move{ToNodeId: "node-c"}}
	already := status.Error(codes.FailedPrecondition, "failed precondition: tenant 42 is already moving to node node-b")
	cases := []struct {
		name    string
		answers []error
		listing *zakiv1.Placement
		// calls is how many steps run; done and fails are the last one's.
		calls       int
		done, fails bool
		lists       int
	}{
		{"the leader at once", []error{nil}, nil, 1, true, false, 0},
		{"two replicas that do not lead, then the leader", []error{notLeader, notLeader, nil}, nil, 3, true, false, 0},
		{"an earlier call started it", []error{notLeader, already}, moving, 2, true, false, 1},
		{"already moving elsewhere after a retry", []error{notLeader, already}, elsewhere, 2, false, true, 1},
		{"already moving on the first call", []error{already}, moving, 1, false, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &moveReplicas{answers: tc.answers, listing: tc.listing}
			step, started := (&ctlTenantsMoveCmd{Tenant: "42", To: "node-b"}).startStep()
			var done bool
			var err error
			for i := range tc.calls {
				done, err = step(t.Context(), r)
				if i < tc.calls-1 && (done || status.Code(err) != codes.Unavailable) {
					t.Fatalf("call %d: done=%v err=%v, want a retryable Unavailable", i, done, err)
				}
			}
			if done != tc.done || (err != nil) != tc.fails || r.lists != tc.lists {
				t.Fatalf("done=%v err=%v lists=%d, want done=%v fails=%v lists=%d", done, err, r.lists,
					tc.done, tc.fails, tc.lists)
			}
			if p := started(); done && p.GetMove().GetToNodeId() != "node-b" {
				t.Fatalf("started %v, want a move to node-b", p)
			}
		})
	}
}
