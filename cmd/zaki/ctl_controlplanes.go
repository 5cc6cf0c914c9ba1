package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// ctlControlPlanesCmd is `zaki ctl controlplanes`: the registered
// control-plane replicas, the leader marked.
type ctlControlPlanesCmd struct{}

func (ctlControlPlanesCmd) Run(ctx context.Context, c *ctlCmd) error {
	return c.call(ctx, func(ctx context.Context, client zakiv1.AdminServiceClient) error {
		resp, err := client.ListControlPlanes(ctx, &zakiv1.ListControlPlanesRequest{})
		if err != nil {
			return err
		}
		if c.Output == "json" {
			return c.printJSON(os.Stdout, resp)
		}
		return writeControlPlanes(os.Stdout, resp.GetControlPlanes(), time.Now())
	})
}

// writeControlPlanes prints one line per replica: UP is how long it has
// been running.
func writeControlPlanes(w io.Writer, cps []*zakiv1.ControlPlane, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tLEADER\tUP\tVERSION")
	for _, cp := range cps {
		leader := "-"
		if cp.GetLeader() {
			leader = "yes"
		}
		up := "-"
		if cp.GetStartedAt() != nil {
			up = now.Sub(cp.GetStartedAt().AsTime()).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cp.GetId(), cp.GetGrpcAddress(), leader, up, dash(cp.GetVersion()))
	}
	return tw.Flush()
}
