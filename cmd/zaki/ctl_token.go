package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

type ctlTokenCmd struct {
	Create ctlTokenCreateCmd `cmd:"" help:"Make a join token and print the command that joins a new host with it."`
	List   ctlTokenListCmd   `cmd:"" help:"List join tokens: id, role, expiry, revoked, uses (never their secrets)."`
	Revoke ctlTokenRevokeCmd `cmd:"" help:"Revoke a join token by id: it can join nothing more."`
}

type ctlTokenCreateCmd struct {
	Role        string        `name:"role" env:"ZAKI_TOKEN_ROLE" default:"agent" enum:"agent,router,admin" help:"What the token joins as: agent, router or admin (default: ${default})."`
	TTL         time.Duration `name:"ttl" env:"ZAKI_TOKEN_TTL" default:"24h" help:"How long the token can be used (default: ${default})."`
	Description string        `name:"description" env:"ZAKI_TOKEN_DESCRIPTION" help:"A note shown by 'token list' (default: none)."`
	Quiet       bool          `name:"quiet" short:"q" env:"ZAKI_TOKEN_QUIET" help:"Print the token alone, for scripts (default: off)."`
}

var tokenRoles = map[string]zakiv1.Role{
	"agent": zakiv1.Role_ROLE_AGENT, "router": zakiv1.Role_ROLE_ROUTER, "admin": zakiv1.Role_ROLE_ADMIN,
}

func (t *ctlTokenCreateCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.CreateJoinToken(ctx, &zakiv1.CreateJoinTokenRequest{Role: tokenRoles[t.Role],
			Ttl: durationpb.New(t.TTL), Description: t.Description})
		if err != nil {
			return err
		}
		switch {
		case t.Quiet:
			_, err := fmt.Println(resp.GetToken())
			return err
		case c.Output == "json":
			return c.printJSON(os.Stdout, resp)
		}
		addr := resp.GetJoinAddress()
		if addr == "" {
			addr = c.ControlPlane
		}
		return writeNewToken(os.Stdout, t.Role, addr, resp)
	})
}

// writeNewToken prints the token once, with the command that uses it.
func writeNewToken(w io.Writer, role, addr string, resp *zakiv1.CreateJoinTokenResponse) error {
	info := resp.GetInfo()
	fmt.Fprintf(w, "Join token %s (role %s, expires %s). It is shown once; keep it secret:\n\n  %s\n\n",
		info.GetId(), role, info.GetExpiresAt().AsTime().Local().Format(time.DateTime), resp.GetToken())
	switch role {
	case "agent", "router":
		fmt.Fprintf(w, "On the new host, as root (the install script puts it in a systemd unit):\n\n"+
			"  zaki %s --join %s --token %s\n\n", role, addr, resp.GetToken())
		fmt.Fprintf(w, "or: deploy/install.sh --role %s --join %s --token <TOKEN>\n", role, addr)
	default:
		fmt.Fprintf(w, "On the operator's workstation:\n\n  zaki ctl --controlplane %s join --token %s\n\n",
			addr, resp.GetToken())
	}
	_, err := fmt.Fprintf(w, "If hosts reach the control plane at another address than %s, use that "+
		"(and start it with --advertise-name).\n", addr)
	return err
}

type ctlTokenListCmd struct{}

func (ctlTokenListCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.ListJoinTokens(ctx, &zakiv1.ListJoinTokensRequest{})
		if err != nil {
			return err
		}
		if c.Output == "json" {
			return c.printJSON(os.Stdout, resp)
		}
		return writeTokens(os.Stdout, resp.GetTokens(), time.Now())
	})
}

func writeTokens(w io.Writer, tokens []*zakiv1.JoinTokenInfo, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tEXPIRES\tREVOKED\tUSES\tDESCRIPTION")
	for _, t := range tokens {
		exp := t.GetExpiresAt().AsTime()
		expires := exp.Local().Format(time.DateTime)
		if !now.Before(exp) {
			expires += " (expired)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\t%s\n", t.GetId(), enumWord(t.GetRole().String(), "ROLE_"),
			expires, t.GetRevoked(), t.GetUses(), t.GetDescription())
	}
	return tw.Flush()
}

type ctlTokenRevokeCmd struct {
	ID string `arg:"" name:"id" help:"The token's id, as 'token list' shows it."`
}

func (r *ctlTokenRevokeCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		if _, err := client.RevokeJoinToken(ctx, &zakiv1.RevokeJoinTokenRequest{Id: r.ID}); err != nil {
			return err
		}
		_, err := fmt.Printf("join token %s revoked\n", r.ID)
		return err
	})
}
