package controlplane

import (
	"maps"
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

func TestJudge(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &fleet{downAfter: 3 * time.Second, unknownGrace: 15 * time.Second, startedAt: start}
	active, cordoned := zakiv1.NodeState_NODE_STATE_ACTIVE, zakiv1.NodeState_NODE_STATE_CORDONED
	down, unknown := zakiv1.NodeState_NODE_STATE_DOWN, zakiv1.NodeState_NODE_STATE_UNKNOWN
	at := func(d time.Duration) time.Time { return start.Add(d) }
	cases := []struct {
		name   string
		stored zakiv1.NodeState
		l      liveness
		now    time.Time
		want   zakiv1.NodeState
		v      verdict
	}{
		{"heard recently", active, liveness{lastHeard: at(10 * time.Second)}, at(12 * time.Second), active, keepState},
		{"exactly the timeout", active, liveness{lastHeard: at(10 * time.Second)}, at(13 * time.Second), active, keepState},
		{"past the timeout", active, liveness{lastHeard: at(10 * time.Second)}, at(13*time.Second + 1), down, markDown},
		{"cordoned and silent", cordoned, liveness{lastHeard: at(0)}, at(time.Minute), down, markDown},
		{"already down", active, liveness{lastHeard: at(0), downSince: at(4 * time.Second)}, at(time.Hour), down, keepState},
		{"down but spoke since", cordoned, liveness{lastHeard: at(time.Hour), downSince: at(time.Second)}, at(time.Hour), cordoned, clearDown},
		{"not heard since start, in grace", active, liveness{}, at(15 * time.Second), unknown, keepState},
		{"not heard since start, grace over", active, liveness{}, at(15*time.Second + 1), down, markDown},
		{"down before the start", active, liveness{downSince: start.Add(-time.Hour)}, at(time.Second), down, keepState},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, v := judge(tc.stored, tc.l, tc.now, f)
			if got != tc.want || v != tc.v {
				t.Fatalf("judge = %v, %d; want %v, %d", got, v, tc.want, tc.v)
			}
		})
	}
}

func TestNodeDownAfterMissedHeartbeatsAndBack(t *testing.T) {
	clock := newFakeClock()
	s := startServer(t, func(c *Config) { c.Now = clock.Now })
	c := dial(t, s)
	agent, _ := register(t, c, testNode("node-1", 4096))
	ensureUser(t, c, 101)
	agent.recv() // the upsert of tenant 101
	heartbeatOnce(agent)
	cordoned, _ := register(t, c, testNode("node-2", 4096))
	if _, err := c.admin.SetNodeState(testCtx(t), &zakiv1.SetNodeStateRequest{NodeId: "node-2",
		State: zakiv1.NodeState_NODE_STATE_CORDONED}); err != nil {
		t.Fatal(err)
	}
	before := placementsAt(t, s)
	agent.cancel()
	cordoned.cancel()
	eventually(t, "sessions closed", func() bool { return len(s.sessions.connected()) == 0 })

	clock.Advance(3 * time.Second) // exactly three periods: not yet
	check(t, s)
	if st, _ := nodeState(t, c, "node-1"); st != zakiv1.NodeState_NODE_STATE_ACTIVE {
		t.Fatalf("after exactly 3 periods: %v, want ACTIVE", st)
	}
	clock.Advance(time.Millisecond)
	check(t, s)
	for _, id := range []string{"node-1", "node-2"} {
		if st, _ := nodeState(t, c, id); st != zakiv1.NodeState_NODE_STATE_DOWN {
			t.Fatalf("%s after 3 periods and 1ms: %v, want DOWN", id, st)
		}
		if kv := rawKV(t, s, downKey(id)); len(kv.Kvs) != 1 ||
			string(kv.Kvs[0].Value) != clock.Now().Format(time.RFC3339Nano) {
			t.Fatalf("down marker of %s: %v", id, kv.Kvs)
		}
	}
	ts := tenantStatus(t, c, "101")
	if !strings.Contains(ts.Placement.Reason, "node node-1 is down since") || ts.Placement.NodeId != "node-1" {
		t.Fatalf("a tenant of a down node shows %v", ts.Placement)
	}

	register(t, c, testNode("node-1", 4096))
	register(t, c, testNode("node-2", 4096))
	want := map[string]zakiv1.NodeState{"node-1": zakiv1.NodeState_NODE_STATE_ACTIVE,
		"node-2": zakiv1.NodeState_NODE_STATE_CORDONED}
	for id, st := range want {
		if got, live := nodeState(t, c, id); got != st || !live {
			t.Fatalf("%s back: %v connected=%v, want %v", id, got, live, st)
		}
		if kv := rawKV(t, s, downKey(id)); len(kv.Kvs) != 0 {
			t.Fatalf("%s keeps its down marker after registering", id)
		}
	}
	if after := placementsAt(t, s); !maps.Equal(before, after) {
		t.Fatalf("placements changed while a node was down:\n%v\n%v", before, after)
	}
}

func TestUnknownAfterRestartNothingMoves(t *testing.T) {
	clock := newFakeClock()
	r := newRestartable(t, func(c *Config) { c.Now = clock.Now })
	s := r.start()
	c := dial(t, s)
	agent, _ := register(t, c, testNode("node-1", 4096))
	ensureUser(t, c, 7)
	a := agent.recv().GetChange().GetUpsert()
	agent.status("7", a.Generation, zakiv1.PlacementState_PLACEMENT_STATE_RUNNING, "")
	eventually(t, "RUNNING", func() bool {
		return tenantStatus(t, c, "7").Placement.State == zakiv1.PlacementState_PLACEMENT_STATE_RUNNING
	})
	before := placementsAt(t, s)

	s = r.start() // same data dir: a restarted control plane
	c = dial(t, s)
	steps := []struct {
		advance time.Duration
		want    zakiv1.NodeState
	}{
		{0, zakiv1.NodeState_NODE_STATE_UNKNOWN},
		{3*time.Second + time.Millisecond, zakiv1.NodeState_NODE_STATE_UNKNOWN},  // past the down timeout
		{12*time.Second - time.Millisecond, zakiv1.NodeState_NODE_STATE_UNKNOWN}, // exactly the grace (5x3s)
		{time.Millisecond, zakiv1.NodeState_NODE_STATE_DOWN},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		check(t, s)
		got, live := nodeState(t, c, "node-1")
		if got != st.want || live {
			t.Fatalf("%v after the start: %v connected=%v, want %v", clock.Now().Sub(s.fleet.startedAt), got, live, st.want)
		}
		if st.want == zakiv1.NodeState_NODE_STATE_UNKNOWN {
			if kv := rawKV(t, s, downKey("node-1")); len(kv.Kvs) != 0 {
				t.Fatal("marked down within the grace")
			}
			if p := tenantStatus(t, c, "7").Placement; !strings.Contains(p.Reason, "has not reported since") {
				t.Fatalf("tenant of an unknown node: %v", p)
			}
		}
	}
	if after := placementsAt(t, s); !maps.Equal(before, after) {
		t.Fatalf("placements changed across a restart:\n%v\n%v", before, after)
	}
}

// check runs one heartbeat pass now.
func check(t *testing.T, s *Server) {
	t.Helper()
	if err := s.checkNodes(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}
