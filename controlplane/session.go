package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// SessionStream is the control plane's end of one agent session.
type SessionStream interface {
	Send(*zakiv1.SessionResponse) error
	Recv() (*zakiv1.SessionRequest, error)
}

// Session runs one agent session until ctx ends, the agent hangs up, the
// node misses its heartbeats, a newer session of the same node replaces it,
// or any step fails (the agent then rebuilds the session with backoff).
//
//	Register -> Welcome -> DesiredSet(rev R) -> AssignmentChange* (watch from R+1)
//	agent: Heartbeat every period, ContainerStatus as containers move
func (c *Controller) Session(ctx context.Context, stream SessionStream) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	in, recvErr := receive(ctx, stream)

	reg, err := firstRegister(ctx, in, recvErr, c.fleet.downAfter)
	if err != nil {
		return err
	}
	if err := validateRegister(reg); err != nil {
		return err
	}
	if err := c.fleet.registers.allow(reg.Node.Id, c.now()); err != nil {
		c.log.Debug("registration refused", "node", reg.Node.Id, "error", err)
		return err
	}
	// Heard before the record is written: the heartbeat monitor reads the
	// record first, so it never pairs a fresh record with a stale hearing.
	c.sessions.heard(reg.Node.Id, c.now())
	node, err := c.upsertNode(ctx, reg.Node)
	if err != nil {
		return err
	}
	s := &session{nodeID: node.Id, cancel: cancel}
	if old := c.sessions.add(s, c.now()); old != nil {
		old.cancel(fmt.Errorf("%w: node %s opened a newer session", errSessionClosed, node.Id))
	}
	defer c.sessions.remove(s)
	// Every replica, the leader above all, learns of the session from its
	// alive key (liveness.go); the goodbye says how long the node had been
	// silent when the session ended.
	rev, err := c.holdAlive(ctx, node.Id)
	if err != nil {
		return err
	}
	c.sessions.setAliveRev(s, rev)
	defer func() {
		_, heard := c.sessions.status(node.Id)
		c.releaseAlive(node.Id, c.sessions.aliveRev(s), c.now().Sub(heard))
	}()
	c.log.Info("agent session opened", "node", node.Id, "addr", node.Address)
	defer c.log.Info("agent session closed", "node", node.Id)

	for _, st := range reg.Running {
		if err := c.reportStatus(ctx, node.Id, st); err != nil {
			return err
		}
	}
	c.kickPending()
	err = c.serveSession(ctx, stream, node.Id, in, recvErr)
	if cause := context.Cause(ctx); errors.Is(cause, errSessionClosed) {
		return cause
	}
	return err
}

// receive reads the agent's messages on their own goroutine, which ends when
// the stream does (the handler returning ends it).
func receive(ctx context.Context, stream SessionStream) (<-chan *zakiv1.SessionRequest, <-chan error) {
	in := make(chan *zakiv1.SessionRequest)
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	return in, errc
}

// firstRegister waits, at most timeout, for the Register that must open a
// session.
func firstRegister(ctx context.Context, in <-chan *zakiv1.SessionRequest, recvErr <-chan error,
	timeout time.Duration) (*zakiv1.Register, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case err := <-recvErr:
		return nil, err
	case <-timer.C:
		return nil, fmt.Errorf("%w: no Register within %s", errInvalid, timeout)
	case m := <-in:
		reg := m.GetRegister()
		if reg == nil {
			return nil, fmt.Errorf("%w: the first message of a session must be Register", errInvalid)
		}
		return reg, nil
	}
}

// serveSession sends Welcome and the desired set, then forwards assignment
// changes and handles the agent's messages until something ends the session.
func (c *Controller) serveSession(ctx context.Context, stream SessionStream, nodeID string,
	in <-chan *zakiv1.SessionRequest, recvErr <-chan error) error {
	if err := stream.Send(&zakiv1.SessionResponse{Msg: &zakiv1.SessionResponse_Welcome{
		Welcome: &zakiv1.Welcome{HeartbeatPeriod: durationpb.New(
			advertisedPeriod(c.heartbeat, c.fleet.jitter()))}}}); err != nil {
		return err
	}
	v, err := c.loadView(ctx)
	if err != nil {
		return err
	}
	last := assignmentsFor(v, nodeID)
	if err := stream.Send(desiredSet(v.rev, last)); err != nil {
		return err
	}
	wch := c.watchFrom(ctx, v)
	tick := time.NewTicker(c.heartbeat)
	defer tick.Stop()
	heard := c.now()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case m := <-in:
			heard = c.now()
			c.sessions.heard(nodeID, heard)
			if err := c.handleAgentMessage(ctx, nodeID, m); err != nil {
				return err
			}
		case <-tick.C:
			if heartbeatExpired(heard, c.now(), c.fleet.downAfter) {
				c.log.Warn("agent missed heartbeats", "node", nodeID)
				return fmt.Errorf("%w: node %s missed %d heartbeats", errSessionClosed, nodeID, c.fleet.missed)
			}
		case resp, ok := <-wch:
			touched, err := applyWatch(ctx, v, resp, ok)
			if err != nil {
				return err
			}
			if touched {
				if last, err = sendAssignmentChanges(stream, v, nodeID, last); err != nil {
					return err
				}
			}
		}
	}
}

// handleAgentMessage handles a message after Register.
func (c *Controller) handleAgentMessage(ctx context.Context, nodeID string, m *zakiv1.SessionRequest) error {
	switch msg := m.Msg.(type) {
	case *zakiv1.SessionRequest_Heartbeat:
		return nil
	case *zakiv1.SessionRequest_Status:
		return c.reportStatus(ctx, nodeID, msg.Status)
	case *zakiv1.SessionRequest_Register:
		return fmt.Errorf("%w: node %s sent Register twice", errInvalid, nodeID)
	default:
		return fmt.Errorf("%w: node %s sent an empty message", errInvalid, nodeID)
	}
}

// reportStatus applies one container status. A report the control plane
// cannot use (a stale generation, a state an agent may not report) is
// logged and dropped rather than ending the session over it.
func (c *Controller) reportStatus(ctx context.Context, nodeID string, st *zakiv1.ContainerStatus) error {
	if st == nil {
		return nil
	}
	applied, err := c.applyStatus(ctx, nodeID, st)
	switch {
	case errors.Is(err, errInvalid):
		c.log.Warn("dropped container status", "node", nodeID, "tenant", st.TenantId, "error", err)
		return nil
	case err != nil:
		return err
	}
	c.log.Debug("container status", "node", nodeID, "tenant", st.TenantId,
		"generation", st.Generation, "state", st.State.String(), "applied", applied)
	return nil
}
