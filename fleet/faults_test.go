package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// Node states as `zaki ctl nodes -o json` names them.
const (
	nodeActive = "NODE_STATE_ACTIVE"
	nodeDown   = "NODE_STATE_DOWN"
)

// nodeKilled: the host under one agent dies (its agent and its tenants'
// containers killed at once) while people keep talking. The node shows
// down, its tenants' updates are acknowledged and parked, nothing of theirs
// starts elsewhere; when the host comes back every parked update is
// delivered, in order, once.
func (f *fleet) nodeKilled(t *testing.T) {
	ps := regulars
	f.ensureRunning(t, ps)
	node, victims := f.victim(t, ps)
	agent := f.service(t, f.serviceOf(node))

	tr := f.startTraffic(ps)
	defer tr.stop()
	ctx := t.Context()
	killed := time.Now()
	if err := f.docker.ContainerKill(ctx, agent, "KILL"); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.containers() {
		if c.node == node && c.state == "running" {
			if err := f.docker.ContainerKill(ctx, c.id, "KILL"); err != nil {
				t.Fatalf("kill tenant container %s: %v", c.name, err)
			}
		}
	}
	// A failure below must not leave the host dead for the later scenarios.
	defer func() { _ = f.docker.ContainerStart(context.Background(), agent, container.StartOptions{}) }()
	t.Logf("killed %s's agent and its tenants' containers", node)
	f.waitNode(t, node, nodeDown, time.Minute)
	// What leaderKilled relies on to see a node marked down between two
	// listings.
	waitUntil(t, 30*time.Second, "a control plane logging "+node+" down", func() error {
		if len(f.downsLogged(t, killed)) == 0 {
			return fmt.Errorf("node %s is shown down, but no control plane logged marking it down", node)
		}
		return nil
	})
	f.waitShownDown(t, victims, node)
	f.waitParked(t, victims)
	f.checkNotElsewhere(t, victims, node)

	if err := f.docker.ContainerStart(ctx, agent, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("started %s's agent again", node)
	f.waitNode(t, node, nodeActive, 2*time.Minute)
	tr.stop()
	t.Logf("%d updates acknowledged under the fault", tr.acked.Load())
	for _, p := range ps {
		f.say(p, "after the host came back")
	}
	f.waitDelivered(t, 2*time.Minute)
	f.checkNotElsewhere(t, victims, node)
}

// agentPartitioned: an agent is cut off the control network (its host and
// containers live on) while people keep talking. The node shows down and its
// tenants as waiting for it, and none of them is started anywhere else. Its
// containers still answer the router, which keeps delivering to them and
// parks only what does not get through (controlplane/admin.go says so to the
// operator), so every acknowledged update must arrive, in order, once.
func (f *fleet) agentPartitioned(t *testing.T) {
	ps := regulars // as in nodeKilled: every tenant takes one of the engine's few address pools
	f.ensureRunning(t, ps)
	node, victims := f.victim(t, ps)
	svc := f.serviceOf(node)
	agent := f.service(t, svc)
	control := f.network("control")

	tr := f.startTraffic(ps)
	defer tr.stop()
	ctx := t.Context()
	if err := f.docker.NetworkDisconnect(ctx, control, agent, false); err != nil {
		t.Fatal(err)
	}
	healed := false
	heal := func() {
		if healed {
			return
		}
		healed = true
		// The same alias compose gave it, so peers find it by name again.
		if err := f.docker.NetworkConnect(context.Background(), control, agent,
			&network.EndpointSettings{Aliases: []string{svc}}); err != nil {
			t.Errorf("reconnect %s to %s: %v", svc, control, err)
		}
	}
	defer heal()
	t.Logf("disconnected %s from %s", svc, control)
	f.waitNode(t, node, nodeDown, time.Minute)
	f.waitShownDown(t, victims, node)
	f.waitAcked(t, tr, 2*len(ps))
	f.checkNotElsewhere(t, victims, node)
	for _, c := range f.containers() {
		if slices.Contains(victims, c.tenant) && c.state != "running" {
			t.Errorf("tenant %s's container %s is %s while its agent is only cut off",
				c.tenant, c.name, c.state)
		}
	}

	heal()
	t.Logf("reconnected %s to %s", svc, control)
	f.waitNode(t, node, nodeActive, 2*time.Minute)
	tr.stop()
	t.Logf("%d updates acknowledged under the fault", tr.acked.Load())
	for _, p := range ps {
		f.say(p, "after the partition healed")
	}
	f.waitDelivered(t, 2*time.Minute)
	f.checkNotElsewhere(t, victims, node)
}

// waitShownDown waits until `zaki ctl tenants` says each victim waits for
// its down node.
func (f *fleet) waitShownDown(t *testing.T, victims []string, node string) {
	t.Helper()
	waitUntil(t, time.Minute, "tenants shown waiting for "+node, func() error {
		ts, err := f.tenants()
		if err != nil {
			return err
		}
		for _, v := range victims {
			if ts[v].Node != node || !strings.Contains(ts[v].Reason, node+" is down") {
				return fmt.Errorf("tenant %s on %q: %s, %q", v, ts[v].Node, ts[v].State, ts[v].Reason)
			}
		}
		return nil
	})
}

// waitAcked waits until the traffic had n more updates acknowledged.
func (f *fleet) waitAcked(t *testing.T, tr *traffic, n int) {
	t.Helper()
	want := tr.acked.Load() + int64(n)
	waitUntil(t, time.Minute, fmt.Sprintf("%d more updates acknowledged", n), func() error {
		if got := tr.acked.Load(); got < want {
			return fmt.Errorf("%d of %d", got, want)
		}
		return nil
	})
}

// waitParked waits until the control plane holds parked updates for every
// victim tenant: what the router acknowledged while they could not take it.
func (f *fleet) waitParked(t *testing.T, victims []string) {
	t.Helper()
	waitUntil(t, time.Minute, "parked updates for "+fmt.Sprint(victims), func() error {
		ts, err := f.tenants()
		if err != nil {
			return err
		}
		for _, v := range victims {
			if ts[v].Parked == 0 {
				return fmt.Errorf("tenant %s (%s) has no parked update", v, ts[v].State)
			}
		}
		return nil
	})
}

// checkNotElsewhere asserts the victims never ran on another node than
// theirs, and have no container anywhere else now.
func (f *fleet) checkNotElsewhere(t *testing.T, victims []string, node string) {
	t.Helper()
	for _, v := range victims {
		if ran := f.sampler.nodesOf(v); len(ran) != 1 || ran[0] != node {
			t.Errorf("tenant %s ran on %v, want only %s", v, ran, node)
		}
	}
	for _, c := range f.containers() {
		if slices.Contains(victims, c.tenant) && c.node != node {
			t.Errorf("tenant %s has a container on %s (%s), not only on %s", c.tenant, c.node, c.state, node)
		}
	}
}
