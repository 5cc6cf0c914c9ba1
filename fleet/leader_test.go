package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// leaderKilled: the control plane that leads is killed (docker kill: its
// etcd member with it) while people keep talking, Telegram-like: an update
// the router refuses is sent again, and only a 2xx answer counts. Another
// replica leads within a bounded wait, updates keep being acknowledged, no
// node is marked down, and no tenant moves or restarts because of it: every
// placement keeps its node and generation, every container its id and start
// time. The killed replica, started again, is listed again.
func (f *fleet) leaderKilled(t *testing.T) {
	ps := talkers()
	f.ensureRunning(t, ps)
	old, cps, err := f.leader()
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 3 {
		t.Fatalf("%d control planes listed before the fault, want 3: %v", len(cps), cps)
	}
	placedBefore, err := f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	startedBefore := f.started(t)
	cp := f.service(t, old)
	t.Logf("%s leads; %d tenants placed, %d containers running", old, len(placedBefore), len(startedBefore))

	tr := f.startTelegramTraffic(ps)
	defer tr.stop()
	f.waitAcked(t, tr, len(ps))
	nw := f.watchNodes()
	defer nw.stop()

	ctx := t.Context()
	killed := time.Now()
	if err := f.docker.ContainerKill(ctx, cp, "KILL"); err != nil {
		t.Fatal(err)
	}
	// A failure below must not leave the fleet with two control planes.
	defer func() { _ = f.docker.ContainerStart(context.Background(), cp, container.StartOptions{}) }()
	ackedAtKill := tr.acked.Load()
	t.Logf("killed control plane %s", old)

	var next string
	waitUntil(t, 90*time.Second, "another control plane leading", func() error {
		l, _, err := f.leader()
		switch {
		case err != nil:
			return err
		case l == old:
			return fmt.Errorf("%s still shown leading", old)
		}
		next = l
		return nil
	})
	failover := time.Since(killed)
	t.Logf("%s leads %s after %s was killed; %d updates acknowledged meanwhile",
		next, failover.Round(100*time.Millisecond), old, tr.acked.Load()-ackedAtKill)
	f.waitAcked(t, tr, 2*len(ps))

	if err := f.docker.ContainerStart(ctx, cp, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	t.Logf("started control plane %s again", old)
	waitUntil(t, 2*time.Minute, "3 control planes listed, "+old+" among them, one leading", func() error {
		_, cps, err := f.leader()
		if err != nil {
			return err
		}
		if len(cps) != 3 || !slices.ContainsFunc(cps, func(cp controlPlane) bool { return cp.ID == old }) {
			return fmt.Errorf("%d control planes listed: %v", len(cps), cps)
		}
		return nil
	})
	t.Logf("%s listed again %s after it was started", old, time.Since(restarted).Round(100*time.Millisecond))
	f.waitAcked(t, tr, len(ps))
	tr.stop()
	nw.stop()
	t.Logf("%d updates acknowledged under the fault, %d answers refused (each update sent again until "+
		"acknowledged); nodes were listed %d times (%d listings failed), states seen: %v",
		tr.acked.Load(), tr.refused.Load(), nw.listings, nw.failures, nw.seen)
	for _, d := range nw.down {
		t.Errorf("the leader change marked a node down: %s", d)
	}
	// A node marked down and back between two listings shows only in the
	// control planes' logs: each says "node down" when it marks one.
	for _, line := range f.downsLogged(t, killed) {
		t.Errorf("the leader change marked a node down: %s", line)
	}
	f.waitDelivered(t, 2*time.Minute)

	placedAfter, err := f.tenants()
	if err != nil {
		t.Fatal(err)
	}
	for id, b := range placedBefore {
		if a := placedAfter[id]; a.Node != b.Node || a.Generation != b.Generation {
			t.Errorf("tenant %s moved or was rescheduled: node %s generation %d, then node %s generation %d",
				id, b.Node, b.Generation, a.Node, a.Generation)
		}
	}
	startedAfter := f.started(t)
	for tenant, b := range startedBefore {
		if a, ok := startedAfter[tenant]; !ok || a != b {
			t.Errorf("tenant %s's container restarted or was replaced: %v, then %v", tenant, b, a)
		}
	}
	nodes, err := f.nodes()
	if err != nil {
		t.Fatal(err)
	}
	for id, n := range nodes {
		if f.nodeRE().MatchString(id) && (n.State != nodeActive || !n.Connected) {
			t.Errorf("node %s is %s (connected %v) after the leader change", id, n.State, n.Connected)
		}
	}
}

// downsLogged are the lines in which a control plane said, since then, that
// it marked one of the fleet's nodes down.
func (f *fleet) downsLogged(t *testing.T, since time.Time) []string {
	t.Helper()
	var out []string
	for _, svc := range []string{"cp1", "cp2", "cp3"} {
		for _, line := range strings.Split(f.logsSince(t, f.service(t, svc), since), "\n") {
			if strings.Contains(line, "node down") && strings.Contains(line, f.name+"-agent") {
				out = append(out, svc+": "+line)
			}
		}
	}
	return out
}

// talkers are the people the fault scenarios after the sample conversation
// share: its three private chats and the regulars. Each tenant takes one of
// the engine's few address pools, so scenarios reuse people.
func talkers() []int64 {
	return append([]int64{5010000001, 5010000002, 7300000003}, regulars...)
}

// regulars are the people the node and control-plane faults are injected
// under, and one of them is moved.
var regulars = people(7410000001, 4)

// containerRun is one container's identity and start time.
type containerRun struct {
	id      string
	started string
}

// started maps each running tenant container of the fleet's tenants to its
// id and start time: a restart changes the time, a new container the id.
func (f *fleet) started(t *testing.T) map[string]containerRun {
	t.Helper()
	out := map[string]containerRun{}
	for _, c := range f.containers() {
		if c.state != "running" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		info, err := f.docker.ContainerInspect(ctx, c.id)
		cancel()
		if err != nil {
			t.Fatalf("inspect %s: %v", c.name, err)
		}
		out[c.tenant] = containerRun{id: c.id[:12], started: info.State.StartedAt}
	}
	return out
}

// nodeWatch lists the nodes over and over while a fault lasts and records
// every state it saw, and every node it saw down.
type nodeWatch struct {
	stopc, done chan struct{}
	once        sync.Once

	// Read after stop.
	listings, failures int
	seen               []string // node states seen, each once
	down               []string
}

func (f *fleet) watchNodes() *nodeWatch {
	w := &nodeWatch{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		seen := map[string]bool{}
		re := f.nodeRE()
		// Bounded like the traffic: each listing takes a second or two.
		for range 1000 {
			select {
			case <-w.stopc:
				w.seen = slices.Sorted(maps.Keys(seen))
				return
			case <-time.After(500 * time.Millisecond):
			}
			nodes, err := f.nodes()
			if err != nil {
				w.failures++ // a listing may fail while the leader changes; zaki ctl retries the next
				continue
			}
			w.listings++
			for id, n := range nodes {
				if !re.MatchString(id) {
					continue
				}
				seen[n.State] = true
				if n.State == nodeDown {
					w.down = append(w.down, fmt.Sprintf("%s %s", time.Now().Format("15:04:05.000"), id))
				}
			}
		}
		w.seen = slices.Sorted(maps.Keys(seen))
	}()
	return w
}

func (w *nodeWatch) stop() {
	w.once.Do(func() { close(w.stopc) })
	<-w.done
}
