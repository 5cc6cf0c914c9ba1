package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// Help is the detailed help of `zaki ctl tenants move --help`.
func (ctlTenantsMoveCmd) Help() string {
	return `The container stops on its node (kept, with its volume), the target node's agent
copies the volume straight from the source's agent (checked by size and SHA-256), starts
the container there, and only then does the tenant's placement switch to the target, with
a new generation. The tenant's updates are parked meanwhile and delivered afterwards, in
order; at no moment do two containers of the tenant run.

The target must be active (not cordoned or draining), connected, and have room for the
tenant's tier; the source must be up, since the data is there. A move cannot be cancelled
yet: if the target stops reporting, the tenant waits, stopped, until it returns (zaki ctl
tenants says so). Once the tenant runs on the target, the source discards its
old container and volume.

Exit status: 0 once the tenant runs on the target; 1 when the move is refused or fails, or
when --deadline passes first (the move itself goes on).`
}

// ctlTenantsMoveCmd is `zaki ctl tenants move ID --to NODE`. Its wait is
// --deadline, not --timeout: that one already bounds each call of zaki ctl.
type ctlTenantsMoveCmd struct {
	Tenant   string        `arg:"" help:"Tenant id, as 'zaki ctl tenants' shows it; a group's starts with -, so put -- before it: move --to NODE -- -4010000001."`
	To       string        `name:"to" env:"ZAKI_MOVE_TO" required:"" placeholder:"NODE" help:"The node to move it to (required; default: none)."`
	Detach   bool          `name:"detach" env:"ZAKI_CTL_DETACH" help:"Return once the move has started instead of following it (default: off)."`
	Deadline time.Duration `name:"deadline" env:"ZAKI_MOVE_DEADLINE" default:"10m" help:"How long to follow the move; past it zaki ctl stops watching, the move goes on (default: ${default})."`
}

// moveStartWindow is how long zaki ctl keeps asking for a move to start
// while no replica it reaches leads.
const moveStartWindow = 45 * time.Second

func (m *ctlTenantsMoveCmd) Run(ctx context.Context, c *ctlCmd) error {
	step, started := m.startStep()
	// Long enough for a new leader to take over from one that died
	// (--replica-ttl, 10s by default, plus an election).
	window := max(c.Timeout, moveStartWindow)
	err := c.poll(ctx, time.Now().Add(window), step)
	if errors.Is(err, errPastDeadline) {
		return fmt.Errorf("no control-plane leader started the move within %s (is a leader elected? "+
			"see zaki ctl controlplanes): %w", window, err)
	}
	if err != nil {
		return err
	}
	resp := &zakiv1.MoveTenantResponse{Placement: started()}
	// Progress goes to stderr with JSON, so stdout stays JSON.
	out := io.Writer(os.Stdout)
	if c.Output == "json" {
		if err := c.printJSON(os.Stdout, resp); err != nil {
			return err
		}
		out = os.Stderr
	}
	p := resp.GetPlacement()
	fmt.Fprintf(out, "tenant %s: moving from %s to %s (generation %d)\n", m.Tenant, p.GetNodeId(), m.To,
		p.GetGeneration())
	if m.Detach {
		fmt.Fprintf(out, "follow it with `zaki ctl tenants`\n")
		return nil
	}
	return m.follow(ctx, c, out, time.Now())
}

// startStep is the step that starts the move, for poll, and what it
// started. Only the leader starts moves: another replica answers
// Unavailable, naming the leader, and calls spread over the replicas, so
// the call is made again (poll) until it reaches the leader. A call that
// failed Unavailable may still have started the move (its replica died
// after writing), so after one, a refusal because the tenant already moves
// to that node, or is there, is taken for that move and followed.
func (m *ctlTenantsMoveCmd) startStep() (func(context.Context, zakiv1.AdminServiceClient) (bool, error),
	func() *zakiv1.Placement) {
	var started *zakiv1.Placement
	retried := false
	step := func(ctx context.Context, client zakiv1.AdminServiceClient) (bool, error) {
		resp, err := client.MoveTenant(ctx, &zakiv1.MoveTenantRequest{TenantId: m.Tenant, ToNodeId: m.To})
		if err == nil {
			started = resp.GetPlacement()
			return true, nil
		}
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded:
			retried = true
		case codes.FailedPrecondition, codes.InvalidArgument:
			if !retried {
				break
			}
			list, lerr := client.ListTenants(ctx, &zakiv1.ListTenantsRequest{})
			if lerr != nil {
				return false, fmt.Errorf("move tenant %s to node %s: %w", m.Tenant, m.To, lerr)
			}
			if p := placementOf(list.GetTenants(), m.Tenant); p.GetMove().GetToNodeId() == m.To ||
				(p.GetMove() == nil && p.GetNodeId() == m.To) {
				started = p
				return true, nil
			}
		}
		return false, fmt.Errorf("move tenant %s to node %s: %w", m.Tenant, m.To, err)
	}
	return step, func() *zakiv1.Placement { return started }
}

// follow prints each phase of the move as it changes until it is done, or
// gives up watching at the deadline.
func (m *ctlTenantsMoveCmd) follow(ctx context.Context, c *ctlCmd, out io.Writer, start time.Time) error {
	var last string
	until := start.Add(m.Deadline)
	err := c.poll(ctx, until, func(ctx context.Context, client zakiv1.AdminServiceClient) (bool, error) {
		resp, err := client.ListTenants(ctx, &zakiv1.ListTenantsRequest{})
		if err != nil {
			return false, err
		}
		line, done, err := describeMove(m.Tenant, m.To, placementOf(resp.GetTenants(), m.Tenant),
			time.Since(start))
		if line != last {
			fmt.Fprintln(out, line)
			last = line
		}
		return done, err
	})
	if errors.Is(err, errPastDeadline) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("tenant %s: the move to %s is not done after %s (%w); it goes on by itself: "+
			"follow it with `zaki ctl tenants`", m.Tenant, m.To, time.Since(start).Round(time.Second), err)
	}
	return err
}

// placementOf is tenant id's placement in a listing; nil when it is not listed.
func placementOf(tenants []*zakiv1.TenantStatus, id string) *zakiv1.Placement {
	for _, t := range tenants {
		if t.GetTenant().GetId() == id {
			return t.GetPlacement()
		}
	}
	return nil
}

// describeMove is one line on tenant id's move to node to, given its
// placement elapsed after the move started; done once it is placed on to;
// an error when the move ended anywhere else. It is pure.
func describeMove(id, to string, p *zakiv1.Placement, elapsed time.Duration) (string, bool, error) {
	if p == nil {
		return "tenant " + id + ": gone", false, fmt.Errorf("tenant %s is no longer listed", id)
	}
	if m := p.GetMove(); m.GetToNodeId() == to {
		line := fmt.Sprintf("tenant %s: stopping on %s", id, p.GetNodeId())
		if m.GetPhase() == zakiv1.MovePhase_MOVE_PHASE_COPYING {
			line = fmt.Sprintf("tenant %s: copying to %s", id, to)
		}
		switch {
		case p.GetReason() != "":
			// What the move waits for: a node down on either side.
			line += " (waiting: " + p.GetReason() + ")"
		case m.GetReason() != "":
			line += " (failed: " + m.GetReason() + "; retrying)"
		}
		return line, false, nil
	}
	state := enumWord(p.GetState().String(), "PLACEMENT_STATE_")
	if p.GetMove() == nil && p.GetNodeId() == to {
		line := fmt.Sprintf("tenant %s: %s on %s (generation %d) after %s", id, state, to,
			p.GetGeneration(), elapsed.Round(100*time.Millisecond))
		if p.GetReason() != "" {
			line += ": " + p.GetReason()
		}
		return line, true, nil
	}
	line := fmt.Sprintf("tenant %s: %s on %s", id, state, dash(p.GetNodeId()))
	return line, false, fmt.Errorf("tenant %s: the move to %s ended without reaching it; see `zaki ctl tenants`",
		id, to)
}
