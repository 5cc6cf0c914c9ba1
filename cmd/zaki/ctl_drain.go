package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// Help is the detailed help of `zaki ctl nodes drain --help`.
func (ctlNodesDrainCmd) Help() string {
	return `The node becomes draining: it takes no new tenants, and the control-plane leader moves
its tenants off, two at a time, to the nodes the scheduler picks, each with its data (see
zaki ctl tenants move --help). Progress is printed as it changes; a tenant that no node
can take is named with the reason.

An empty node stays draining (shown as drained) until zaki ctl nodes uncordon, which also
stops a drain: moves in flight finish, no new ones start.

Exit status: 0 once the node holds no tenants; 1 when --deadline passes first (the drain
itself goes on, and the tenants left are named).`
}

// ctlNodesDrainCmd is `zaki ctl nodes drain NODE`.
type ctlNodesDrainCmd struct {
	Node     string        `arg:"" help:"Node id."`
	Detach   bool          `name:"detach" env:"ZAKI_CTL_DETACH" help:"Return once the node is draining instead of following the drain (default: off)."`
	Deadline time.Duration `name:"deadline" env:"ZAKI_DRAIN_DEADLINE" default:"30m" help:"How long to follow the drain; past it zaki ctl stops watching and the node keeps draining (default: ${default})."`
}

func (d *ctlNodesDrainCmd) Run(ctx context.Context, c *ctlCmd) error {
	var resp *zakiv1.SetNodeStateResponse
	err := c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		var err error
		resp, err = client.SetNodeState(ctx, &zakiv1.SetNodeStateRequest{NodeId: d.Node,
			State: zakiv1.NodeState_NODE_STATE_DRAINING})
		if err != nil {
			return fmt.Errorf("drain node %s: %w", d.Node, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	out := io.Writer(os.Stdout)
	if c.Output == "json" {
		if err := c.printJSON(os.Stdout, resp); err != nil {
			return err
		}
		out = os.Stderr
	}
	fmt.Fprintf(out, "node %s draining: its tenants move off with their data, two at a time; "+
		"`zaki ctl nodes uncordon %s` stops it\n", d.Node, d.Node)
	if d.Detach {
		fmt.Fprintf(out, "follow it with `zaki ctl nodes` and `zaki ctl tenants`\n")
		return nil
	}
	return d.follow(ctx, c, out, time.Now())
}

// follow prints the drain's progress as it changes until the node holds no
// tenant, or gives up watching at the deadline.
func (d *ctlNodesDrainCmd) follow(ctx context.Context, c *ctlCmd, out io.Writer, start time.Time) error {
	seen := map[string]bool{}
	told := map[string]string{} // tenant -> the stuck reason last printed
	var last drainProgress
	var line string
	until := start.Add(d.Deadline)
	err := c.poll(ctx, until, func(ctx context.Context, client zakiv1.AdminServiceClient) (bool, error) {
		nodes, err := client.ListNodes(ctx, &zakiv1.ListNodesRequest{})
		if err != nil {
			return false, err
		}
		tenants, err := client.ListTenants(ctx, &zakiv1.ListTenantsRequest{})
		if err != nil {
			return false, err
		}
		last = progressOfDrain(d.Node, nodes.GetNodes(), tenants.GetTenants(), seen)
		if next := last.line(d.Node, time.Since(start)); next != line {
			fmt.Fprintln(out, next)
			line = next
		}
		for _, st := range stuckOn(d.Node, tenants.GetTenants()) {
			if told[st[0]] != st[1] {
				fmt.Fprintf(out, "  tenant %s cannot move now: %s\n", st[0], st[1])
				told[st[0]] = st[1]
			}
		}
		return last.done(), last.err(d.Node)
	})
	if errors.Is(err, errPastDeadline) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("node %s: not drained after %s (%w): %d tenant(s) left: %s\n"+
			"the node keeps draining: follow it with `zaki ctl nodes` and `zaki ctl tenants`, "+
			"or stop it with `zaki ctl nodes uncordon %s`", d.Node, time.Since(start).Round(time.Second),
			err, len(last.left), strings.Join(last.left, "; "), d.Node)
	}
	return err
}

// drainProgress is what one look at a draining node says.
type drainProgress struct {
	// found says the node is listed; state is its state as shown.
	found bool
	state zakiv1.NodeState
	// total counts every tenant seen on the node while following; moved
	// those of them no longer on it.
	total, moved, moving, waiting int
	// left describes each tenant still on the node, by id.
	left []string
}

// progressOfDrain is the progress of node's drain in one listing; seen (the
// tenants ever seen on the node) is updated. It is pure.
func progressOfDrain(node string, nodes []*zakiv1.NodeStatus, tenants []*zakiv1.TenantStatus,
	seen map[string]bool) drainProgress {
	var p drainProgress
	for _, n := range nodes {
		if n.GetNode().GetId() == node {
			p.found, p.state = true, n.GetNode().GetState()
		}
	}
	on := map[string]bool{}
	for _, ts := range tenants {
		pl := ts.GetPlacement()
		if pl.GetNodeId() != node {
			continue
		}
		id := ts.GetTenant().GetId()
		on[id], seen[id] = true, true
		if m := pl.GetMove(); m != nil {
			p.moving++
			p.left = append(p.left, fmt.Sprintf("%s moving to %s (%s)", id, m.GetToNodeId(),
				enumWord(m.GetPhase().String(), "MOVE_PHASE_")))
			continue
		}
		p.waiting++
		p.left = append(p.left, fmt.Sprintf("%s waiting (%s)", id, dash(pl.GetReason())))
	}
	for id := range seen {
		p.total++
		if !on[id] {
			p.moved++
		}
	}
	return p
}

func (p drainProgress) done() bool { return p.found && p.moving+p.waiting == 0 }

// err says why following the drain cannot go on: the node is gone, or no
// longer draining (down or unknown is not that: the drain waits for it).
func (p drainProgress) err(node string) error {
	switch p.state {
	case zakiv1.NodeState_NODE_STATE_ACTIVE, zakiv1.NodeState_NODE_STATE_CORDONED:
		if !p.done() {
			return fmt.Errorf("node %s is no longer draining (now %s); %d tenant(s) stay on it", node,
				enumWord(p.state.String(), "NODE_STATE_"), p.moving+p.waiting)
		}
	}
	if !p.found {
		return fmt.Errorf("node %s is no longer listed (removed?)", node)
	}
	return nil
}

// line is the progress as printed: "node-a: 5 of 20 tenants moved, 2
// moving, 13 waiting".
func (p drainProgress) line(node string, elapsed time.Duration) string {
	if p.done() {
		return fmt.Sprintf("%s: drained: %d of %d tenants moved after %s", node, p.moved, p.total,
			elapsed.Round(100*time.Millisecond))
	}
	line := fmt.Sprintf("%s: %d of %d tenants moved, %d moving, %d waiting", node, p.moved, p.total,
		p.moving, p.waiting)
	switch p.state {
	case zakiv1.NodeState_NODE_STATE_DOWN, zakiv1.NodeState_NODE_STATE_UNKNOWN:
		line += fmt.Sprintf(" (the node is %s: the drain waits for it)", enumWord(p.state.String(), "NODE_STATE_"))
	}
	return line
}

// stuckOn lists (tenant id, reason) for the tenants on node that wait for
// a reason other than their turn: no node can take them, say. Their reason
// is worth printing as soon as it appears, not only past the deadline.
func stuckOn(node string, tenants []*zakiv1.TenantStatus) [][2]string {
	var out [][2]string
	for _, ts := range tenants {
		pl := ts.GetPlacement()
		if pl.GetNodeId() != node || pl.GetMove() != nil {
			continue
		}
		if why := pl.GetReason(); strings.Contains(why, "cannot move now") {
			_, why, _ = strings.Cut(why, "cannot move now: ")
			out = append(out, [2]string{ts.GetTenant().GetId(), why})
		}
	}
	return out
}
