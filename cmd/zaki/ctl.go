package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/cpdial"
)

type ctlCmd struct {
	ControlPlane string        `name:"controlplane" env:"ZAKI_CONTROLPLANE" help:"One or more control-plane addresses, comma-separated; the client fails over between them. A local zaki dev needs no flag (default: the addresses kept with the credentials by zaki ctl join, else 127.0.0.1:7400)."`
	Output       string        `name:"output" short:"o" env:"ZAKI_OUTPUT" default:"table" enum:"table,json" help:"Output format: table or json (default: ${default})."`
	Timeout      time.Duration `name:"timeout" env:"ZAKI_CTL_TIMEOUT" default:"10s" help:"How long a call may take (default: ${default})."`
	Credentials  string        `name:"credentials" env:"ZAKI_CREDENTIALS" placeholder:"DIR" help:"Directory of the operator's certificate, key and cluster CA, which the control plane writes to <data-dir>/admin (default: ./zaki-data/admin, then ~/.zaki/admin from zaki ctl join, then ~/.zaki/dev/admin from zaki dev)."`

	Nodes   ctlNodesCmd   `cmd:"" help:"List nodes (the default), or cordon, uncordon, drain or remove one."`
	Tenants ctlTenantsCmd `cmd:"" help:"List tenants (the default): where each runs, its state, why it is not running, parked updates; or move one."`
	Token   ctlTokenCmd   `cmd:"" help:"Join tokens: create one for a new host, list or revoke them."`
	Members ctlMembersCmd `cmd:"" help:"Certificate holders: list agents, routers and operators (the default), or revoke one."`

	Join          ctlJoinCmd          `cmd:"" help:"Join this workstation as an operator with an admin token; later zaki ctl calls use the credentials."`
	Controlplanes ctlControlPlanesCmd `cmd:"" name:"controlplanes" help:"List the control-plane replicas and which one leads."`
}

// dial connects to the control plane's admin API with the operator's
// credentials (ctl_credentials.go).
func (c *ctlCmd) dial() (zakiv1.AdminServiceClient, string, func(), error) {
	creds, dir, err := c.adminCredentials()
	if err != nil {
		return nil, "", nil, err
	}
	if c.ControlPlane == "" {
		c.ControlPlane = creds.ControlPlane()
	}
	c.defaultControlPlane()
	conn, err := cpdial.Dial(cpdial.Split(c.ControlPlane), creds.TransportCredentials())
	if err != nil {
		return nil, "", nil, fmt.Errorf("control plane %s: %w", c.ControlPlane, err)
	}
	return zakiv1.NewAdminServiceClient(conn), dir, func() { _ = conn.Close() }, nil
}

// call runs one admin call with the timeout. When the control plane could
// not be reached, or refused the credentials, the error says what to check.
func (c *ctlCmd) call(ctx context.Context, fn func(context.Context, zakiv1.AdminServiceClient) error) error {
	client, dir, closeConn, err := c.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	return c.explain(fn(ctx, client), dir)
}

// explain adds to an error of a call what to check when the control plane
// could not be reached or refused the credentials in dir.
func (c *ctlCmd) explain(err error, dir string) error {
	switch status.Code(err) {
	case codes.OK:
		return nil
	case codes.Unavailable, codes.DeadlineExceeded:
		if strings.Contains(err.Error(), "does not lead") {
			// Reached a replica, which could not act: nothing to check here.
			return err
		}
		return fmt.Errorf("%w\n(is a control plane listening on %s, and are the credentials in %s its own? "+
			"point at it with --controlplane or ZAKI_CONTROLPLANE, and at its <data-dir>/admin with "+
			"--credentials or ZAKI_CREDENTIALS; start one with `zaki dev` or `zaki controlplane`)", err, c.ControlPlane, dir)
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("%w\n(the credentials in %s are not accepted by %s: use its <data-dir>/admin "+
			"with --credentials or ZAKI_CREDENTIALS)", err, dir, c.ControlPlane)
	default:
		return err
	}
}

func (c *ctlCmd) printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

type ctlNodesLsCmd struct{}

func (ctlNodesLsCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.ListNodes(ctx, &zakiv1.ListNodesRequest{})
		if err != nil {
			return err
		}
		if c.Output == "json" {
			return c.printJSON(os.Stdout, resp)
		}
		return writeNodes(os.Stdout, resp.GetNodes(), time.Now())
	})
}

// ctlTenantsCmd is `zaki ctl tenants`: listing is the default, so `zaki ctl
// tenants` and `zaki ctl tenants ls` print the same table.
type ctlTenantsCmd struct {
	Ls   ctlTenantsLsCmd   `cmd:"" default:"withargs" help:"List tenants: where each runs, its state, why it is not running, parked updates."`
	Move ctlTenantsMoveCmd `cmd:"" help:"Move a tenant, with its data, to another node, and follow the move until it runs there."`
}

type ctlTenantsLsCmd struct{}

func (ctlTenantsLsCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.ListTenants(ctx, &zakiv1.ListTenantsRequest{})
		if err != nil {
			return err
		}
		if c.Output == "json" {
			return c.printJSON(os.Stdout, resp)
		}
		return writeTenants(os.Stdout, resp.GetTenants())
	})
}

// pollInterval is how often a command that follows a change asks again.
const pollInterval = 500 * time.Millisecond

// errPastDeadline ends a poll whose deadline passed.
var errPastDeadline = errors.New("past the deadline")

// poll dials once, then calls step every pollInterval, each call bounded by
// --timeout, until step reports done or fails, the deadline passes
// (errPastDeadline) or ctx ends. A call that cannot reach a control plane is
// tried again next time (the client fails over between replicas).
func (c *ctlCmd) poll(ctx context.Context, deadline time.Time,
	step func(context.Context, zakiv1.AdminServiceClient) (bool, error)) error {
	client, dir, closeConn, err := c.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	var last error
	for {
		callCtx, cancel := context.WithTimeout(ctx, c.Timeout)
		done, err := step(callCtx, client)
		cancel()
		switch code := status.Code(err); {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil && done:
			return nil
		case code == codes.Unavailable || code == codes.DeadlineExceeded:
			last = c.explain(err, dir)
		case err != nil:
			return c.explain(err, dir)
		default:
			last = nil
		}
		if !time.Now().Before(deadline) {
			if last != nil {
				return fmt.Errorf("%w; the last call failed: %w", errPastDeadline, last)
			}
			return errPastDeadline
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// defaultCtlControlPlane is where zaki ctl looks for a control plane when
// neither --controlplane nor the credentials name one: a local one.
const defaultCtlControlPlane = "127.0.0.1:7400"

// defaultControlPlane fills in --controlplane when nothing set it.
func (c *ctlCmd) defaultControlPlane() {
	if c.ControlPlane == "" {
		c.ControlPlane = defaultCtlControlPlane
	}
}
