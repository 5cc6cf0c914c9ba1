package controlplane

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// patient keeps fake agents, which heartbeat only when told, connected and
// not down for the length of a test.
func patient(c *Config) {
	c.MissedHeartbeats = 600
	c.UnknownGrace = time.Hour
}

// moveNode is testNode whose agent serves volume transfers.
func moveNode(id string, memMiB int64) *zakiv1.Node {
	n := testNode(id, memMiB)
	n.TransferAddress = n.Address + ":7500"
	return n
}

// putRaw writes records straight to etcd, for states the API cannot reach
// quickly (a node never heard from, a tenant on it).
func putRaw(t *testing.T, s *Server, ops ...clientv3.Op) {
	t.Helper()
	if _, err := s.cli.Txn(testCtx(t)).Then(ops...).Commit(); err != nil {
		t.Fatal(err)
	}
}

// placedOps are the records of tenant tn placed on node at port (none when
// node is empty: PENDING) in state.
func placedOps(tn *zakiv1.Tenant, node string, port uint32, state zakiv1.PlacementState) []clientv3.Op {
	p := &zakiv1.Placement{TenantId: tn.Id, NodeId: node, HostPort: port, Generation: 1, State: state}
	ops := []clientv3.Op{putProto(tenantKey(tn.Id), tn), putProto(secretsKey(tn.Id), &zakiv1.TenantSecrets{}),
		putProto(placementKey(tn.Id), p)}
	if node != "" {
		ops = append(ops, clientv3.OpPut(portKey(node, port), tn.Id))
	}
	return ops
}

func freeTenant(id string) *zakiv1.Tenant {
	owner, _ := strconv.ParseInt(id, 10, 64)
	return &zakiv1.Tenant{Id: id, Kind: zakiv1.TenantKind_TENANT_KIND_USER, OwnerUserId: owner,
		Profile: "echo", Tier: "free"}
}

// placement reads tenant id's placement as stored.
func placement(t *testing.T, s *Server, id string) *zakiv1.Placement {
	t.Helper()
	v, err := s.loadView(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return v.placements[id]
}

func moveTenant(t *testing.T, c clients, id, to string) *zakiv1.Placement {
	t.Helper()
	resp, err := c.admin.MoveTenant(testCtx(t), &zakiv1.MoveTenantRequest{TenantId: id, ToNodeId: to})
	if err != nil {
		t.Fatalf("move %s to %s: %v", id, to, err)
	}
	return resp.Placement
}

// discard reads an agent's session in the background, so the control plane
// never blocks sending to it; it ends with the session.
func discard(a *fakeAgent) {
	go func() {
		for {
			if _, err := a.stream.Recv(); err != nil {
				return
			}
		}
	}()
}

// startDrains runs the drain loop until the test ends (in the server it is
// started by the leader's loops).
func startDrains(t *testing.T, s *Server) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.runDrains(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// stepMove sends the report that takes tenant id's move one phase on (the
// source's STOPPED, then the target's RUNNING) and waits for it to apply.
func stepMove(t *testing.T, s *Server, agents map[string]*fakeAgent, id string) {
	t.Helper()
	p := placement(t, s, id)
	switch p.GetMove().GetPhase() {
	case zakiv1.MovePhase_MOVE_PHASE_STOPPING:
		agents[p.NodeId].status(id, p.Generation, zakiv1.PlacementState_PLACEMENT_STATE_STOPPED, "")
		eventually(t, "tenant "+id+" copying", func() bool {
			return placement(t, s, id).GetMove().GetPhase() == zakiv1.MovePhase_MOVE_PHASE_COPYING
		})
	case zakiv1.MovePhase_MOVE_PHASE_COPYING:
		to := p.Move.ToNodeId
		agents[to].status(id, p.Generation, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING, "")
		eventually(t, "tenant "+id+" on "+to, func() bool { return placement(t, s, id).NodeId == to })
	default:
		t.Fatalf("tenant %s is not moving: %v", id, p)
	}
}

// onNode is how many tenants are placed on node, and how many of them are
// moving off it.
func onNode(t *testing.T, s *Server, node string) (held, moving int) {
	t.Helper()
	v, err := s.loadView(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range v.placements {
		if p.NodeId == node {
			held++
			if p.Move != nil {
				moving++
			}
		}
	}
	return held, moving
}

// logBuffer is a log sink tests may read while the control plane writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}
