package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// ctlMembersCmd is `zaki ctl members`: the holders of certificates this
// cluster issued (agents, routers, operators). Listing is the default, so
// `zaki ctl members` and `zaki ctl members ls` print the same table.
type ctlMembersCmd struct {
	Ls     ctlMembersLsCmd     `cmd:"" default:"withargs" help:"List members with a live certificate: id, role, certificates, expiry."`
	Revoke ctlMembersRevokeCmd `cmd:"" help:"Revoke every certificate of a member (a leaked router's, say): its next call is refused."`
}

type ctlMembersLsCmd struct{}

func (ctlMembersLsCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.ListMembers(ctx, &zakiv1.ListMembersRequest{})
		if err != nil {
			return err
		}
		if c.Output == "json" {
			return c.printJSON(os.Stdout, resp)
		}
		return writeMembers(os.Stdout, resp.GetMembers())
	})
}

// writeMembers prints one line per member. A role is "unknown" on
// certificates recorded before roles were kept.
func writeMembers(w io.Writer, members []*zakiv1.Member) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tCERTIFICATES\tEXPIRES")
	for _, m := range members {
		role := enumWord(m.GetRole().String(), "ROLE_")
		if m.GetRole() == zakiv1.Role_ROLE_UNSPECIFIED {
			role = "unknown"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.GetId(), role, m.GetCertificates(),
			m.GetExpiresAt().AsTime().Local().Format(time.DateTime))
	}
	return tw.Flush()
}

type ctlMembersRevokeCmd struct {
	ID string `arg:"" name:"id" help:"The member's id, as 'zaki ctl members' shows it."`
}

func (r *ctlMembersRevokeCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.RevokeMember(ctx, &zakiv1.RevokeMemberRequest{Id: r.ID})
		if err != nil {
			return fmt.Errorf("revoke member %s: %w", r.ID, err)
		}
		// The certificates are revoked either way; whether the id is still
		// a node only decides the hint, so a failed listing is no error.
		nodes, err := client.ListNodes(ctx, &zakiv1.ListNodesRequest{})
		isNode := err == nil && slices.ContainsFunc(nodes.GetNodes(), func(n *zakiv1.NodeStatus) bool {
			return n.GetNode().GetId() == r.ID
		})
		if c.Output == "json" {
			// The hint goes to stderr, so stdout stays JSON.
			writeNodeHint(os.Stderr, r.ID, isNode)
			return c.printJSON(os.Stdout, resp)
		}
		fmt.Fprintf(os.Stdout, "member %s: %d certificate(s) revoked; its next call is refused\n",
			r.ID, resp.GetRevoked())
		writeNodeHint(os.Stdout, r.ID, isNode)
		return nil
	})
}

// writeNodeHint tells how to forget a revoked agent's node as well.
func writeNodeHint(w io.Writer, id string, isNode bool) {
	if isNode {
		fmt.Fprintf(w, "%s is still a registered node: use `zaki ctl nodes rm %s` to also forget the node\n",
			id, id)
	}
}
