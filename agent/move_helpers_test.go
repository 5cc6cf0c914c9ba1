package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/profile"
)

// countingDocker counts ContainerList calls: at least one per reconcile pass.
type countingDocker struct {
	Docker
	lists atomic.Int64
}

func (c *countingDocker) ContainerList(ctx context.Context, o container.ListOptions) ([]container.Summary, error) {
	c.lists.Add(1)
	return c.Docker.ContainerList(ctx, o)
}

// moveNode is one agent of a move test on the real engine, with its own
// fake control plane and TransferService.
type moveNode struct {
	id     string
	a      *Agent
	cp     *fakeCP
	s      *cpSession
	docker *countingDocker
}

func startMoveNode(t *testing.T, cli *client.Client, image string) *moveNode {
	t.Helper()
	n := &moveNode{id: dockerNode(t, cli), docker: &countingDocker{Docker: cli}}
	var addr string
	n.cp, addr = startCP(t)
	a, err := New(Config{NodeID: n.id, ControlPlane: addr, Docker: n.docker, PortMin: 1024, PortMax: 65535,
		BotAPIURL: "http://host.docker.internal:1", ResyncPeriod: 200 * time.Millisecond,
		TransferListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	a.lookup = func(string) (profile.Profile, error) { return echoProfile(t, image), nil }
	n.a = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	n.s = nextSession(t, n.cp)
	if got := n.s.register.GetNode().GetTransferAddress(); got == "" || got != a.transferAddr {
		t.Fatalf("node %s registered transfer address %q, serving on %q", n.id, got, a.transferAddr)
	}
	return n
}

func (n *moveNode) upsert(t *testing.T, as *zakiv1.Assignment) {
	t.Helper()
	n.s.send(t, &zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Change{Change: &zakiv1.AssignmentChange{
		Change: &zakiv1.AssignmentChange_Upsert{Upsert: as}}}})
}

// waitState waits for the tenant's status at gen in state on n.
func (n *moveNode) waitState(t *testing.T, tenant string, gen uint64, state zakiv1.PlacementState) *zakiv1.ContainerStatus {
	t.Helper()
	var st *zakiv1.ContainerStatus
	eventually(t, 90*time.Second, "tenant "+tenant+" "+stateName(state)+" on "+n.id, func() bool {
		st = n.s.latest()[tenant]
		return st.GetGeneration() == gen && st.GetState() == state
	})
	return st
}

// reasons are the FAILED reasons n reported for tenant, in order.
func (n *moveNode) reasons(tenant string) []string {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	var out []string
	for _, st := range n.s.statuses {
		if st.GetTenantId() == tenant && st.GetState() == zakiv1.PlacementState_PLACEMENT_STATE_FAILED {
			out = append(out, st.GetReason())
		}
	}
	return out
}

// sampler counts, every few milliseconds until stopped, the running
// containers of one tenant across nodes, and keeps the most seen at once.
type sampler struct {
	most, samples atomic.Int64
	stop          func()
}

func sampleRunning(t *testing.T, cli *client.Client, tenant string, nodes ...string) *sampler {
	s := &sampler{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f := filters.NewArgs(filters.Arg("label", LabelTenant+"="+tenant), filters.Arg("status", "running"))
		for ctx.Err() == nil {
			cs, err := cli.ContainerList(ctx, container.ListOptions{Filters: f})
			if err == nil {
				n := int64(0)
				for _, c := range cs {
					for _, node := range nodes {
						if c.Labels[LabelNode] == node {
							n++
						}
					}
				}
				s.samples.Add(1)
				if n > s.most.Load() {
					s.most.Store(n)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	s.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(s.stop)
	return s
}
