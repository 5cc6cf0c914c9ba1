package fleet

import (
	"context"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
)

const (
	// drainSize is how many tenants the drained node holds.
	drainSize = 20
	// maxTenants is every agent's --max-tenants in the suite's fleet
	// (ZAKI_FLEET_MAX_TENANTS): room for the drained node's tenants on one
	// node, and for all of the fleet's on the two others after the drain.
	maxTenants   = 32
	nodeDraining = "NODE_STATE_DRAINING"
	// drainMovesPerNode is how many moves a drain runs at once off a node
	// (controlplane/drain.go): each holds one more network on its target.
	drainMovesPerNode = 2
)

// nodeDrained: every tenant of the fleet is gathered on the fullest node
// (moved there with `zaki ctl tenants move --detach`), which is then filled
// up to 20 tenants (the other two cordoned meanwhile, so new people land on
// it); each person says a few things, and the node is drained with `zaki
// ctl nodes drain --deadline 5m` while they keep talking, Telegram-like.
// zaki ctl exits 0 after showing its progress; the node ends DRAINING with
// no tenant; every one of the 20 runs elsewhere, one generation up, in a
// container holding every update of theirs the router ever acknowledged
// (its volume came along), once each and in order; and each ran on no node
// but those.
//
// Each tenant takes one of the engine's address pools (about 30, shared
// with whatever else runs on it, another fleet included), and each move in
// flight one more on its target: gathering first keeps the suite's need at
// 20 plus the drain's moves.
func (f *fleet) nodeDrained(t *testing.T) {
	ts, err := f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) > drainSize {
		t.Fatalf("the fleet has %d tenants, more than the %d the drained node is to hold", len(ts), drainSize)
	}
	node := fullest(ts, f.agents())
	f.gather(t, ts, node)
	fresh := people(7460000001, drainSize-len(ts))
	f.waitPoolRoom(t, len(fresh)+drainMovesPerNode, 2*time.Minute)
	t.Logf("filling %s, which holds the fleet's %d tenants, with %d more", node, len(ts), len(fresh))

	others := slices.DeleteFunc(f.agents(), func(n string) bool { return n == node })
	for _, o := range others {
		f.ctl(t, time.Minute, "nodes", "cordon", o)
	}
	cordoned := true
	uncordon := func() {
		if cordoned {
			cordoned = false
			for _, o := range others {
				f.ctl(t, time.Minute, "nodes", "uncordon", o)
			}
		}
	}
	defer uncordon()
	f.ensureRunning(t, fresh)
	uncordon()

	ts, err = f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	var tenants []string
	var talkers []int64 // people among them: a group's tenant cannot be talked to as a person
	for id, p := range ts {
		if p.Node != node {
			continue
		}
		tenants = append(tenants, id)
		if person, err := strconv.ParseInt(id, 10, 64); err == nil && person > 0 {
			talkers = append(talkers, person)
		}
	}
	slices.Sort(tenants)
	slices.Sort(talkers)
	if len(tenants) != drainSize {
		t.Fatalf("node %s holds %d tenants, want %d: %v", node, len(tenants), drainSize, tenants)
	}
	t.Logf("%s holds %d tenants, %d of them people who keep talking (a group's tenant brings only "+
		"what it was sent before)", node, len(tenants), len(talkers))
	for _, p := range talkers {
		for i := range 2 {
			if s, _ := f.sayAsTelegram(p, fmt.Sprintf("before the drain %d", i)); !s.acked() {
				t.Fatalf("update %d before the drain: the router answered %d", s.id, s.code)
			}
		}
	}
	f.waitDelivered(t, 2*time.Minute)
	before, ranBefore := map[string]uint64{}, map[string][]string{}
	for _, id := range tenants {
		before[id], ranBefore[id] = ts[id].Generation, f.sampler.nodesOf(id)
	}

	tr := f.startTelegramTraffic(talkers)
	defer tr.stop()
	f.waitAcked(t, tr, 5)
	ackedBefore, start := tr.acked.Load(), time.Now()
	out, err := f.sh(6*time.Minute, "ctl", "nodes", "drain", node, "--deadline", "5m")
	took, ackedDuring := time.Since(start), tr.acked.Load()-ackedBefore
	if err != nil {
		t.Fatalf("zaki ctl nodes drain: %v\n%s", err, out)
	}
	f.waitAcked(t, tr, len(talkers))
	tr.stop()
	t.Logf("zaki ctl nodes drain took %s; %d updates acknowledged before it, %d while it ran, %d in all, "+
		"%d answers refused:\n%s", took.Round(100*time.Millisecond), ackedBefore, ackedDuring,
		tr.acked.Load(), tr.refused.Load(), out)
	f.checkDrainOutput(t, out, node)

	nodes, err := f.nodes()
	if err != nil {
		t.Fatal(err)
	}
	if n := nodes[node]; n.State != nodeDraining || n.Tenants != 0 {
		t.Errorf("drained node %s is %s with %d tenants, want %s with 0", node, n.State, n.Tenants, nodeDraining)
	}
	ts, err = f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	landed := map[string][]string{}
	for _, id := range tenants {
		p := ts[id]
		if p.Node == node || p.State != placementRunning || p.Generation != before[id]+1 || p.MovingTo != "" {
			t.Errorf("after the drain tenant %s is %s on %s at generation %d (moving to %q), want %s on "+
				"another node at %d", id, p.State, p.Node, p.Generation, p.MovingTo, placementRunning, before[id]+1)
		}
		landed[p.Node] = append(landed[p.Node], id)
	}
	for to, ids := range landed {
		t.Logf("%d tenants moved to %s", len(ids), to)
		f.waitOnlyOn(t, ids, to, time.Minute)
	}
	f.waitDelivered(t, 2*time.Minute)
	n := 0
	for _, id := range tenants {
		n += f.checkHolds(t, id)
		want := sorted(append(ranBefore[id], ts[id].Node)...)
		if ran := f.sampler.nodesOf(id); !slices.Equal(ran, slices.Compact(want)) {
			t.Errorf("tenant %s ran on %v, want only %v", id, ran, slices.Compact(want))
		}
	}
	t.Logf("the %d moved tenants' containers hold their %d acknowledged updates, once each, in order",
		len(tenants), n)
}

// checkDrainOutput asserts zaki ctl nodes drain said it was draining,
// showed progress, and ended with every tenant moved.
func (f *fleet) checkDrainOutput(t *testing.T, out, node string) {
	t.Helper()
	if !strings.Contains(out, "node "+node+" draining") {
		t.Errorf("zaki ctl nodes drain did not say %s is draining", node)
	}
	progress := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(node) + `: [0-9]+ of ` +
		strconv.Itoa(drainSize) + ` tenants moved, [0-9]+ moving, [0-9]+ waiting$`)
	if !progress.MatchString(out) {
		t.Errorf("zaki ctl nodes drain showed no progress line like %q", progress)
	}
	done := fmt.Sprintf("%s: drained: %d of %d tenants moved after", node, drainSize, drainSize)
	if !strings.Contains(out, done) {
		t.Errorf("zaki ctl nodes drain did not end with %q", done)
	}
}

// gather moves every tenant in ts that is not on node there, all at once,
// and waits until each runs there alone.
func (f *fleet) gather(t *testing.T, ts map[string]tenantInfo, node string) {
	t.Helper()
	var moved []string
	for _, id := range slices.Sorted(maps.Keys(ts)) {
		if ts[id].Node != node {
			f.ctl(t, time.Minute, "tenants", "move", id, "--to", node, "--detach")
			moved = append(moved, id)
		}
	}
	t.Logf("gathering %d tenants on %s: %v", len(moved), node, moved)
	waitUntil(t, 2*time.Minute, "the gathered tenants running on "+node, func() error {
		now, err := f.tenants()
		if err != nil {
			return err
		}
		for _, id := range moved {
			if p := now[id]; p.Node != node || p.MovingTo != "" || p.State != placementRunning {
				return fmt.Errorf("tenant %s is %s on %s (moving to %q): %s", id, p.State, p.Node, p.MovingTo,
					p.Reason)
			}
		}
		return nil
	})
	f.waitOnlyOn(t, slices.Collect(maps.Keys(ts)), node, time.Minute)
}

// dockerPools are the engine's default address pools when it was given
// none (moby's ipamutils): each bridge network made without a subnet takes
// a /16 of 172.17-31 or a /20 of 192.168, 31 in all.
var dockerPools = func() []system.NetworkAddressPool {
	pools := []system.NetworkAddressPool{{Base: "192.168.0.0/16", Size: 20}}
	for i := 17; i <= 31; i++ {
		pools = append(pools, system.NetworkAddressPool{Base: fmt.Sprintf("172.%d.0.0/16", i), Size: 16})
	}
	return pools
}()

// poolRoom is how many more networks the engine's default address pools
// can give, and how many they give in all.
func (f *fleet) poolRoom(ctx context.Context) (free, total int, err error) {
	info, err := f.docker.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	pools := info.DefaultAddressPools
	if len(pools) == 0 {
		pools = dockerPools
	}
	var bases []*net.IPNet
	for _, p := range pools {
		_, base, err := net.ParseCIDR(p.Base)
		if err != nil {
			return 0, 0, fmt.Errorf("the engine's address pool %q: %w", p.Base, err)
		}
		ones, _ := base.Mask.Size()
		total += 1 << max(p.Size-ones, 0)
		bases = append(bases, base)
	}
	nets, err := f.docker.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return 0, 0, err
	}
	used := 0
	for _, n := range nets {
		for _, c := range n.IPAM.Config {
			if ip, _, err := net.ParseCIDR(c.Subnet); err == nil &&
				slices.ContainsFunc(bases, func(b *net.IPNet) bool { return b.Contains(ip) }) {
				used++
				break
			}
		}
	}
	return total - used, total, nil
}

// waitPoolRoom waits until the engine's address pools have room for need
// more networks: others' containers on this engine (another fleet, other
// tests) take from the same pools, and a tenant that finds none fails to
// start or to move, which would look like a fault of the fleet.
func (f *fleet) waitPoolRoom(t *testing.T, need int, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, fmt.Sprintf("room for %d more networks in the engine's address pools", need),
		func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			free, total, err := f.poolRoom(ctx)
			if err != nil {
				return err
			}
			if free < need {
				return fmt.Errorf("%d of the %d networks the engine's address pools give are taken: each "+
					"tenant takes one, and others' containers on this engine share them; run the suite "+
					"when fewer run, or give the engine more (default-address-pools)", total-free, total)
			}
			t.Logf("the engine's address pools have room for %d more networks of %d; %d needed", free, total, need)
			return nil
		})
}
