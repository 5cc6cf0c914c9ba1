package main

import (
	"context"
	"fmt"
	"os"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// ctlNodesCmd is `zaki ctl nodes`: listing is the default, so `zaki ctl
// nodes` and `zaki ctl nodes ls` print the same table.
type ctlNodesCmd struct {
	Ls       ctlNodesLsCmd       `cmd:"" default:"withargs" help:"List nodes: address, state, session, tenants and memory."`
	Cordon   ctlNodesCordonCmd   `cmd:"" help:"Keep new tenants off a node; its tenants stay and keep running."`
	Uncordon ctlNodesUncordonCmd `cmd:"" help:"Let a cordoned or draining node take new tenants again; a drain stops, moves in flight finish."`
	Drain    ctlNodesDrainCmd    `cmd:"" help:"Move every tenant off a node, with its data, and follow the drain until the node is empty."`
	Rm       ctlNodesRmCmd       `cmd:"" help:"Remove a node and revoke its certificates; refused while it holds tenants unless --force."`
}

type ctlNodesCordonCmd struct {
	Node string `arg:"" help:"Node id."`
}

func (n ctlNodesCordonCmd) Run(ctx context.Context, c *ctlCmd) error {
	return setNodeState(ctx, c, n.Node, zakiv1.NodeState_NODE_STATE_CORDONED,
		"node %s cordoned: it keeps its tenants and takes no new ones\n")
}

type ctlNodesUncordonCmd struct {
	Node string `arg:"" help:"Node id."`
}

func (n ctlNodesUncordonCmd) Run(ctx context.Context, c *ctlCmd) error {
	return setNodeState(ctx, c, n.Node, zakiv1.NodeState_NODE_STATE_ACTIVE,
		"node %s uncordoned: it takes new tenants again (a drain stops; moves in flight finish)\n")
}

func setNodeState(ctx context.Context, c *ctlCmd, node string, state zakiv1.NodeState, done string) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.SetNodeState(ctx, &zakiv1.SetNodeStateRequest{NodeId: node, State: state})
		if err != nil {
			return fmt.Errorf("set state of node %s: %w", node, err)
		}
		if c.Output == "json" {
			return c.printJSON(os.Stdout, resp)
		}
		_, err = fmt.Fprintf(os.Stdout, done, node)
		return err
	})
}

type ctlNodesRmCmd struct {
	Force bool   `name:"force" help:"Remove it even though it holds tenants: they are left failed, without a node, their data on that host."`
	Node  string `arg:"" help:"Node id."`
}

func (n ctlNodesRmCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.RemoveNode(ctx, &zakiv1.RemoveNodeRequest{NodeId: n.Node, Force: n.Force})
		if err != nil {
			return fmt.Errorf("remove node %s: %w", n.Node, err)
		}
		if c.Output == "json" {
			return c.printJSON(os.Stdout, resp)
		}
		_, err = fmt.Fprintf(os.Stdout, "node %s removed; its certificates are revoked\n", n.Node)
		return err
	})
}
