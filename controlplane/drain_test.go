package controlplane

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

func TestDrainMovesEveryTenantAFewAtATime(t *testing.T) {
	s := startServer(t, patient)
	c := dial(t, s)
	agents := map[string]*fakeAgent{}
	agents["node-1"], _ = register(t, c, moveNode("node-1", 8192))
	const tenants = 5
	for i := range tenants {
		ensureUser(t, c, int64(i+1))
	}
	agents["node-2"], _ = register(t, c, moveNode("node-2", 1024)) // room for two free tenants
	agents["node-3"], _ = register(t, c, moveNode("node-3", 4096))
	for _, a := range agents {
		discard(a)
	}
	startDrains(t, s)
	setState(t, c, "node-1", zakiv1.NodeState_NODE_STATE_DRAINING)

	eventually(t, "the first moves", func() bool { _, moving := onNode(t, s, "node-1"); return moving == 2 })
	for range 3 {
		if err := s.drainOnce(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, moving := onNode(t, s, "node-1"); moving != drainMovesPerNode {
		t.Fatalf("%d moves in flight off one draining node, want %d", moving, drainMovesPerNode)
	}
	if p := placement(t, s, "1"); p.GetMove().GetCause() != "drain" {
		t.Fatalf("a drain's move: %v", p)
	}
	if p := tenantStatus(t, c, "5").Placement; !strings.Contains(p.Reason, "node node-1 is draining; this tenant waits its turn") {
		t.Fatalf("a waiting tenant's reason: %q", p.Reason)
	}

	for step := 0; ; step++ {
		if step > 4*tenants {
			t.Fatal("the drain does not end")
		}
		held, moving := onNode(t, s, "node-1")
		if moving > drainMovesPerNode {
			t.Fatalf("%d moves in flight off one draining node", moving)
		}
		if held == 0 {
			break
		}
		if moving == 0 {
			eventually(t, "the next move", func() bool { _, moving := onNode(t, s, "node-1"); return moving > 0 })
		}
		for _, id := range movingOff(t, s, "node-1") {
			stepMove(t, s, agents, id)
		}
		if into, _ := usageOn(t, s, "node-2"); into > 2 {
			t.Fatalf("node-2 holds or receives %d tenants, room for 2", into)
		}
	}

	where := map[string]int{}
	for i := range tenants {
		p := placement(t, s, fmt.Sprint(i+1))
		if p.Generation != 2 || p.State != zakiv1.PlacementState_PLACEMENT_STATE_RUNNING || p.Move != nil {
			t.Fatalf("tenant %d after the drain: %v", i+1, p)
		}
		where[p.NodeId]++
	}
	if where["node-2"] != 2 || where["node-3"] != 3 {
		t.Fatalf("tenants per node after the drain: %v", where)
	}
	if st, _ := nodeState(t, c, "node-1"); st != zakiv1.NodeState_NODE_STATE_DRAINING {
		t.Fatalf("a drained node is %v, want it still draining", st)
	}
}

func TestUncordonStopsADrain(t *testing.T) {
	s := startServer(t, patient)
	c := dial(t, s)
	agents := map[string]*fakeAgent{}
	agents["node-1"], _ = register(t, c, moveNode("node-1", 4096))
	for i := range 3 {
		ensureUser(t, c, int64(i+1))
	}
	agents["node-2"], _ = register(t, c, moveNode("node-2", 4096))
	for _, a := range agents {
		discard(a)
	}
	startDrains(t, s)
	setState(t, c, "node-1", zakiv1.NodeState_NODE_STATE_DRAINING)
	eventually(t, "two moves", func() bool { _, moving := onNode(t, s, "node-1"); return moving == 2 })

	setState(t, c, "node-1", zakiv1.NodeState_NODE_STATE_ACTIVE)
	for _, id := range movingOff(t, s, "node-1") {
		stepMove(t, s, agents, id) // stopped
		stepMove(t, s, agents, id) // running on node-2
	}
	for range 3 {
		if err := s.drainOnce(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if held, moving := onNode(t, s, "node-1"); held != 1 || moving != 0 {
		t.Fatalf("after uncordon node-1 holds %d tenants, %d moving; want 1 staying", held, moving)
	}
	if p := tenantStatus(t, c, "3").Placement; p.Reason != "" {
		t.Fatalf("the staying tenant's reason: %q", p.Reason)
	}
}

func TestDrainWithNowhereToGo(t *testing.T) {
	logs := &logBuffer{}
	s := startServer(t, patient, func(c *Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})
	})
	c := dial(t, s)
	register(t, c, moveNode("node-1", 4096))
	ensureUser(t, c, 1)
	register(t, c, moveNode("node-2", 4096))
	setState(t, c, "node-2", zakiv1.NodeState_NODE_STATE_CORDONED)
	setState(t, c, "node-1", zakiv1.NodeState_NODE_STATE_DRAINING)

	for range 3 {
		if err := s.drainOnce(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if _, moving := onNode(t, s, "node-1"); moving != 0 {
		t.Fatal("a move started with no node to take it")
	}
	p := tenantStatus(t, c, "1").Placement
	if !strings.Contains(p.Reason, "node node-1 is draining, but this tenant cannot move now: no node can take it "+
		"(node-1: draining; node-2: state cordoned)") {
		t.Fatalf("the stuck tenant's reason: %q", p.Reason)
	}
	if n := logs.count("tenant cannot leave draining node"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.buf.String())
	}

	setState(t, c, "node-2", zakiv1.NodeState_NODE_STATE_ACTIVE)
	if err := s.drainOnce(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if to := placement(t, s, "1").GetMove().GetToNodeId(); to != "node-2" {
		t.Fatalf("once node-2 takes tenants again, tenant 1 moves to %q", to)
	}
}

// movingOff is the ids of the tenants moving off node, sorted.
func movingOff(t *testing.T, s *Server, node string) []string {
	t.Helper()
	v, err := s.loadView(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for id, p := range v.placements {
		if p.NodeId == node && p.Move != nil {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// usageOn is what the scheduler counts on node: tenants and memory.
func usageOn(t *testing.T, s *Server, node string) (uint32, int64) {
	t.Helper()
	v, err := s.loadView(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	u := usageByNode(v)[node]
	return u.tenants, u.memBytes
}
