package fleet

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Placement states as `zaki ctl tenants -o json` names them.
const placementRunning = "PLACEMENT_STATE_RUNNING"

// tenantMoved: one person's tenant moves to another node with `zaki ctl
// tenants move` while their messages keep arriving, Telegram-like. zaki ctl
// exits 0 once the tenant runs there; its placement is on the target, one
// generation up; its one container runs there and holds every update of
// theirs the router acknowledged, those from before the move included, once
// each and in the order sent; and it ran on no third node.
func (f *fleet) tenantMoved(t *testing.T) {
	mover := regulars[0]
	id := tenantOf(mover)
	f.ensureRunning(t, []int64{mover})
	for i := range 3 {
		if s, _ := f.sayAsTelegram(mover, fmt.Sprintf("before the move %d", i)); !s.acked() {
			t.Fatalf("update %d before the move: the router answered %d", s.id, s.code)
		}
	}
	ts, err := f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	before := ts[id]
	if before.State != placementRunning {
		t.Fatalf("tenant %s is %s on %s before the move", id, before.State, before.Node)
	}
	// The fullest other node: the drain after this scenario then finds the
	// most tenants there already.
	to := fullest(ts, f.agents(), before.Node)
	t.Logf("moving tenant %s from %s (generation %d) to %s", id, before.Node, before.Generation, to)

	tr := f.startTelegramTraffic([]int64{mover})
	defer tr.stop()
	f.waitAcked(t, tr, 5)
	ackedBefore, start := tr.acked.Load(), time.Now()
	out, err := f.sh(3*time.Minute, "ctl", "tenants", "move", id, "--to", to, "--deadline", "2m")
	took, ackedDuring := time.Since(start), tr.acked.Load()-ackedBefore
	if err != nil {
		t.Fatalf("zaki ctl tenants move: %v\n%s", err, out)
	}
	f.waitAcked(t, tr, 5)
	tr.stop()
	t.Logf("zaki ctl tenants move took %s; %d updates acknowledged before it, %d while it ran, %d in all, "+
		"%d answers refused:\n%s", took.Round(100*time.Millisecond), ackedBefore, ackedDuring,
		tr.acked.Load(), tr.refused.Load(), out)

	gen := before.Generation + 1
	for _, want := range []string{
		fmt.Sprintf("tenant %s: moving from %s to %s (generation %d)", id, before.Node, to, gen),
		fmt.Sprintf("tenant %s: running on %s (generation %d) after", id, to, gen),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("zaki ctl tenants move did not print %q", want)
		}
	}
	ts, err = f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	if p := ts[id]; p.Node != to || p.Generation != gen || p.State != placementRunning || p.MovingTo != "" {
		t.Errorf("after the move tenant %s is %s on %s at generation %d (moving to %q), want %s on %s at %d",
			id, p.State, p.Node, p.Generation, p.MovingTo, placementRunning, to, gen)
	}
	f.waitOnlyOn(t, []string{id}, to, time.Minute)
	f.waitDelivered(t, 2*time.Minute)
	n := f.checkHolds(t, id)
	t.Logf("tenant %s's container on %s holds its %d acknowledged updates, once each, in order", id, to, n)
	if ran := f.sampler.nodesOf(id); !slices.Equal(ran, sorted(before.Node, to)) {
		t.Errorf("tenant %s ran on %v, want only %s then %s", id, ran, before.Node, to)
	}
}

// fullest is the node of nodes holding most tenants in ts, other than
// except; ties go to the first in nodes.
func fullest(ts map[string]tenantInfo, nodes []string, except ...string) string {
	count := map[string]int{}
	for _, p := range ts {
		count[p.Node]++
	}
	best := ""
	for _, node := range nodes {
		if !slices.Contains(except, node) && (best == "" || count[node] > count[best]) {
			best = node
		}
	}
	return best
}

// agents are the fleet's three nodes.
func (f *fleet) agents() []string { return []string{f.node(1), f.node(2), f.node(3)} }

func sorted(s ...string) []string {
	sort.Strings(s)
	return s
}
