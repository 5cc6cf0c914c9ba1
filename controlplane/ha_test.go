package controlplane

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestReplicasLeadOneAtATime: three replicas started at once against an
// empty cluster share one CA and elect one leader; only its fenced writes
// land, a deposed one's fail, and when the leader stops another takes over.
func TestReplicasLeadOneAtATime(t *testing.T) {
	rs := startReplicas(t, 3)
	ca := rs.servers[0].trust.ca.Hash()
	for i, s := range rs.servers {
		if s.trust.ca.Hash() != ca {
			t.Fatalf("replica %d has another CA: %s, want %s", i+1, shortHash(s.trust.ca.Hash()), shortHash(ca))
		}
	}
	lead := rs.leader()
	for _, s := range rs.servers {
		assertListing(t, s, rs.servers[lead].rep.id, 3)
	}

	// Only the leader's fenced writes land.
	follower := rs.servers[rs.others(lead)[0]]
	if fencedPut(t, follower, follower.fenced(), "/zaki/v1/test/follower") {
		t.Fatal("a follower's fenced write landed")
	}
	held := rs.servers[lead].fenced()
	if !fencedPut(t, rs.servers[lead], held, "/zaki/v1/test/leader") {
		t.Fatal("the leader's fenced write failed")
	}

	// Depose the leader behind its back: its lease ends, as after a
	// partition longer than the TTL. Its writes fail at once, before it
	// notices, and an older campaigner takes over.
	deposed := lead
	if _, err := rs.servers[deposed].cli.Revoke(testCtx(t), rs.servers[deposed].rep.lease()); err != nil {
		t.Fatal(err)
	}
	if fencedPut(t, rs.servers[deposed], held, "/zaki/v1/test/deposed") {
		t.Fatal("a deposed leader's fenced write landed")
	}
	eventually(t, "another replica leads", func() bool {
		l := rs.leading()
		return l >= 0 && l != deposed
	})
	eventually(t, "the deposed replica back in the registry", func() bool {
		cps, err := rs.servers[deposed].ListControlPlanes(testCtx(t))
		return err == nil && len(cps) == 3
	})

	// Stop the leader: another takes over without waiting for its TTL.
	lead = rs.leader()
	rs.kill(lead)
	next := rs.leader()
	if next == lead {
		t.Fatal("the stopped replica still leads")
	}
	// The stopped replica's etcd member may have been raft's leader: etcd
	// elects another, and writes time out meanwhile (the listing's client
	// certificate is recorded in etcd). Wait for writes to land again.
	for _, i := range rs.others(-1) {
		eventually(t, "etcd takes writes again", func() bool {
			ctx, cancel := context.WithTimeout(testCtx(t), 2*time.Second)
			defer cancel()
			_, err := rs.servers[i].cli.Put(ctx, "/zaki/v1/test/writable", "x")
			return err == nil
		})
		assertListing(t, rs.servers[i], rs.servers[next].rep.id, 2)
	}
}

// fencedPut writes key under cmps from s and reports whether it landed.
func fencedPut(t *testing.T, s *Server, cmps []clientv3.Cmp, key string) bool {
	t.Helper()
	resp, err := s.cli.Txn(testCtx(t)).If(cmps...).Then(clientv3.OpPut(key, "x")).Commit()
	if err != nil {
		t.Fatal(err)
	}
	return resp.Succeeded
}

// assertListing waits until s lists want replicas with leader marked, and
// checks the addresses.
func assertListing(t *testing.T, s *Server, leader string, want int) {
	t.Helper()
	var cps []*zakiv1.ControlPlane
	eventually(t, "the control-plane listing", func() bool {
		resp, err := dial(t, s).admin.ListControlPlanes(testCtx(t), &zakiv1.ListControlPlanesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		cps = resp.ControlPlanes
		return len(cps) == want && slices.ContainsFunc(cps, func(cp *zakiv1.ControlPlane) bool {
			return cp.Leader && cp.Id == leader
		})
	})
	for _, cp := range cps {
		if cp.Leader != (cp.Id == leader) || !strings.HasPrefix(cp.GrpcAddress, "127.0.0.1:") ||
			cp.StartedAt == nil || cp.Version == "" {
			t.Fatalf("listing from %s: %v", s.rep.id, cp)
		}
	}
}

// TestLivenessAcrossReplicas: agents hold their sessions with replicas
// that do not lead, and the leader sees them; a tenant created on a
// replica that does not lead is placed by the leader; after a leader change
// a node not heard from since is UNKNOWN for the whole grace, and nothing is
// marked down meanwhile.
func TestLivenessAcrossReplicas(t *testing.T) {
	client, peer := testEtcdURLs(t)
	startTestEtcd(t, t.TempDir(), client, peer)
	rs := startReplicasOn(t, client, 3)
	lead := rs.leader()
	f1, f2 := rs.others(lead)[0], rs.others(lead)[1]
	L, c := rs.servers[lead], dial(t, rs.servers[lead])

	held, _ := register(t, dial(t, rs.servers[f1]), testNode("node-1", 4096)) // stays connected
	gone, _ := register(t, dial(t, rs.servers[f2]), testNode("node-2", 4096))
	gone.cancel()
	eventually(t, "the leader sees node-1 held and node-2 gone", func() bool {
		_, live1 := nodeState(t, c, "node-1")
		_, live2 := nodeState(t, c, "node-2")
		return live1 && !live2
	})
	if L.sessions.holds("node-1") {
		t.Fatal("the test's session landed on the leader")
	}

	// A tenant created on a follower is PENDING there, and the leader
	// places it on the node another follower holds.
	resp := ensureUser(t, dial(t, rs.servers[f2]), 42)
	if !resp.Created || resp.Route.State != zakiv1.PlacementState_PLACEMENT_STATE_PENDING {
		t.Fatalf("a follower placed a tenant itself: %v", resp.Route)
	}
	eventually(t, "the leader places tenant 42", func() bool {
		p := tenantStatus(t, c, "42").Placement
		return p.State == zakiv1.PlacementState_PLACEMENT_STATE_SCHEDULED && p.NodeId == "node-1"
	})
	if up := held.recv().GetChange().GetUpsert(); up.GetTenantId() != "42" {
		t.Fatalf("node-1's agent got %v, want tenant 42's assignment", up)
	}

	// An hour later by the leader's clock: the node held by a follower is
	// still up, the one that left is down.
	rs.clocks[lead].Advance(time.Hour)
	check(t, L)
	if st, live := nodeState(t, c, "node-1"); st != zakiv1.NodeState_NODE_STATE_ACTIVE || !live {
		t.Fatalf("node-1, held by a follower: %v connected=%v, want ACTIVE", st, live)
	}
	if st, _ := nodeState(t, c, "node-2"); st != zakiv1.NodeState_NODE_STATE_DOWN {
		t.Fatalf("node-2, gone for an hour: %v, want DOWN", st)
	}

	// node-3 leaves; then the leader stops.
	leaving, _ := register(t, dial(t, rs.servers[f2]), testNode("node-3", 4096))
	leaving.cancel()
	eventually(t, "node-3's session gone everywhere", func() bool {
		return !slices.ContainsFunc(rs.servers, func(s *Server) bool { return s.sessions.connected()["node-3"] })
	})
	for _, clock := range rs.clocks {
		clock.Advance(time.Second) // node-3 was heard before the next leader took over
	}
	before := placementsAt(t, L)
	rs.kill(lead)
	next := rs.leader()
	N, nc := rs.servers[next], dial(t, rs.servers[next])
	grace := N.fleet.unknownGrace
	for _, step := range []struct {
		advance time.Duration
		want    zakiv1.NodeState
	}{
		{0, zakiv1.NodeState_NODE_STATE_UNKNOWN},
		{N.fleet.downAfter + time.Millisecond, zakiv1.NodeState_NODE_STATE_UNKNOWN},
		{grace - N.fleet.downAfter - time.Millisecond, zakiv1.NodeState_NODE_STATE_UNKNOWN}, // exactly the grace
		{time.Millisecond, zakiv1.NodeState_NODE_STATE_DOWN},
	} {
		rs.clocks[next].Advance(step.advance)
		check(t, N)
		if st, _ := nodeState(t, nc, "node-3"); st != step.want {
			t.Fatalf("node-3 %v after the new leader took over: %v, want %v",
				rs.clocks[next].Now().Sub(N.rep.graceStart()), st, step.want)
		}
		if marked := len(rawKV(t, N, downKey("node-3")).Kvs) == 1; marked != (step.want == zakiv1.NodeState_NODE_STATE_DOWN) {
			t.Fatalf("node-3's down marker after %v: %v", rs.clocks[next].Now().Sub(N.rep.graceStart()), marked)
		}
	}
	if st, _ := nodeState(t, nc, "node-2"); st != zakiv1.NodeState_NODE_STATE_DOWN {
		t.Fatalf("node-2 after the leader change: %v, want it still DOWN", st)
	}
	if after := placementsAt(t, N); !maps.Equal(before, after) {
		t.Fatalf("placements changed across a leader change:\n%v\n%v", before, after)
	}
}
