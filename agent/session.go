package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v5"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/cpdial"
	"github.com/zaki-platform/zaki/internal/member"
)

// ProtocolVersion is the agent session protocol this agent speaks.
//
// Changelog:
//
//	1: Register, Welcome, DesiredSet, AssignmentChange, Heartbeat, ContainerStatus.
//	   Moves, compatibly: Node.transfer_address; Assignment.stopped,
//	   move_to_node_id and restore_from; PLACEMENT_STATE_STOPPED.
//	   Discards, compatibly: Assignment.discard; PLACEMENT_STATE_DISCARDED.
const ProtocolVersion = 1

const (
	// handshakeTimeout bounds the wait for Welcome and DesiredSet.
	handshakeTimeout = 15 * time.Second
	// defaultHeartbeat is used when Welcome names no period.
	defaultHeartbeat = 5 * time.Second
	minHeartbeat     = 50 * time.Millisecond
)

// runSessions keeps a session with the control plane up until ctx ends,
// rebuilding it with exponential backoff and jitter after every failure; the
// backoff starts over after a session that got as far as its desired set.
func (a *Agent) runSessions(ctx context.Context, creds *member.Credentials) error {
	// One connection over every replica: a session lost with its replica is
	// rebuilt below on the next one (cpdial's pick_first).
	conn, err := cpdial.Dial(cpdial.Split(a.cfg.ControlPlane), a.transport(creds))
	if err != nil {
		return fmt.Errorf("dial control plane %s: %w", a.cfg.ControlPlane, err)
	}
	defer conn.Close()
	cli := zakiv1.NewAgentServiceClient(conn)

	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 250 * time.Millisecond
	b.MaxInterval = 30 * time.Second
	// lastFailure keeps a failure that repeats (a revoked certificate, a
	// control plane that is down) to one Warn line until it changes.
	lastFailure := ""
	for {
		healthy, err := a.session(ctx, cli)
		if ctx.Err() != nil {
			a.setReady(errors.New("agent stopped"))
			return nil
		}
		a.setReady(fmt.Errorf("no session with the control plane at %s: %w", a.cfg.ControlPlane, err))
		a.m.reconnects.Inc()
		switch {
		case healthy:
			b.Reset()
			lastFailure = ""
			a.log.Info("session lost", "addr", a.cfg.ControlPlane, "error", err)
		case err.Error() != lastFailure:
			lastFailure = err.Error()
			a.log.Warn("no session with the control plane, retrying with backoff", "addr", a.cfg.ControlPlane, "error", err)
		default:
			a.log.Debug("session failed", "addr", a.cfg.ControlPlane, "error", err)
		}
		t := time.NewTimer(b.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			a.setReady(errors.New("agent stopped"))
			return nil
		case <-t.C:
		}
	}
}

// session runs one session until it fails; healthy tells whether it got as
// far as the desired set. Ending a session never touches a container.
func (a *Agent) session(ctx context.Context, cli zakiv1.AgentServiceClient) (healthy bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	running, err := a.running(ctx)
	if err != nil {
		return false, err
	}
	stream, err := cli.Session(ctx)
	if err != nil {
		return false, fmt.Errorf("open session: %w", err)
	}
	reg := &zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Register{Register: a.register(running)}}
	if err := stream.Send(reg); err != nil {
		return false, fmt.Errorf("send register: %w", err)
	}
	period, desired, err := handshake(ctx, cancel, stream)
	if err != nil {
		return false, err
	}
	if err := a.applyDesired(ctx, desired); err != nil {
		return false, err
	}
	a.setReady(nil)
	a.log.Info("session up", "addr", a.cfg.ControlPlane)

	errc := make(chan error, 2)
	go func() { errc <- a.receive(stream) }()
	go func() { errc <- a.send(ctx, stream, period) }()
	err = <-errc
	cancel()
	<-errc
	return true, err
}

// handshake reads Welcome then DesiredSet, within handshakeTimeout.
func handshake(ctx context.Context, cancel context.CancelFunc,
	stream zakiv1.AgentService_SessionClient) (time.Duration, *zakiv1.DesiredSet, error) {
	timer := time.AfterFunc(handshakeTimeout, cancel)
	defer timer.Stop()
	msg, err := stream.Recv()
	if err != nil {
		return 0, nil, fmt.Errorf("wait for welcome: %w", err)
	}
	w := msg.GetWelcome()
	if w == nil {
		return 0, nil, fmt.Errorf("protocol: first message is %T, want Welcome", msg.GetMsg())
	}
	if msg, err = stream.Recv(); err != nil {
		return 0, nil, fmt.Errorf("wait for desired set: %w", err)
	}
	d := msg.GetDesired()
	if d == nil {
		return 0, nil, fmt.Errorf("protocol: second message is %T, want DesiredSet", msg.GetMsg())
	}
	period := w.GetHeartbeatPeriod().AsDuration()
	if period <= 0 {
		period = defaultHeartbeat
	}
	return max(period, minHeartbeat), d, ctx.Err()
}

// receive applies assignment changes until the stream fails.
func (a *Agent) receive(stream zakiv1.AgentService_SessionClient) error {
	for {
		msg, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		ch := msg.GetChange()
		switch {
		case ch == nil:
			return fmt.Errorf("protocol: unexpected %T after the desired set", msg.GetMsg())
		case ch.GetUpsert() != nil:
			a.setWant(ch.GetUpsert().GetTenantId(), ch.GetUpsert())
		case ch.GetRemoveTenantId() != "":
			a.setWant(ch.GetRemoveTenantId(), nil)
		}
	}
}

// send is the session's only sender after the handshake: heartbeats every
// period (a little early, by up to a tenth, so jitter never makes one late)
// and statuses as they change.
func (a *Agent) send(ctx context.Context, stream zakiv1.AgentService_SessionClient, period time.Duration) error {
	beat := time.NewTimer(jitter(period))
	defer beat.Stop()
	for {
		for _, st := range a.board.takeDirty() {
			if err := stream.Send(&zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Status{Status: st}}); err != nil {
				return fmt.Errorf("send status: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.board.notify:
		case <-beat.C:
			if err := stream.Send(heartbeat); err != nil {
				return fmt.Errorf("send heartbeat: %w", err)
			}
			beat.Reset(jitter(period))
		}
	}
}

var heartbeat = &zakiv1.SessionRequest{Msg: &zakiv1.SessionRequest_Heartbeat{Heartbeat: &zakiv1.Heartbeat{}}}

// jitter returns period shortened by a random amount of up to a tenth.
func jitter(period time.Duration) time.Duration {
	return period - rand.N(period/10+1)
}
