package controlplane

import (
	"context"
	"math/rand/v2"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

const (
	// unknownGraceFactor is the default UnknownGrace in down timeouts.
	unknownGraceFactor   = 5
	defaultRegisterBurst = 5
	defaultPortCooldown  = 2 * time.Minute
)

// fleet is what the controller knows and decides about nodes beyond etcd:
// when it started (nodes not heard from since are UNKNOWN), how long a node
// may be silent, how often it may register, how long a port cools down, and
// how the scheduler picks.
type fleet struct {
	period       time.Duration
	missed       int
	downAfter    time.Duration
	unknownGrace time.Duration
	// startedAt is when this control plane started; a node not heard from
	// since is UNKNOWN until startedAt+unknownGrace.
	startedAt    time.Time
	portCooldown time.Duration
	policy       zakiv1.SchedulerPolicy
	registers    *registerLimiter
	// jitter returns a number in [0,1) for the advertised heartbeat period.
	jitter func() float64
	// revokeNodeCerts is called when a node is removed, before its record
	// goes, so that its certificate stops working. useTrust sets it to the
	// CA's revocation; it stays a no-op only in tests that run without TLS.
	revokeNodeCerts func(ctx context.Context, nodeID string) error
}

// fleetDefaults sets the defaults of the fleet fields; withDefaults calls it
// once HeartbeatPeriod is set.
func (c Config) fleetDefaults() Config {
	if c.MissedHeartbeats <= 0 {
		c.MissedHeartbeats = missedHeartbeats
	}
	if c.UnknownGrace <= 0 {
		c.UnknownGrace = unknownGraceFactor * time.Duration(c.MissedHeartbeats) * c.HeartbeatPeriod
	}
	if c.RegisterInterval <= 0 {
		c.RegisterInterval = c.HeartbeatPeriod
	}
	if c.RegisterBurst <= 0 {
		c.RegisterBurst = defaultRegisterBurst
	}
	if c.PortCooldown <= 0 {
		c.PortCooldown = defaultPortCooldown
	}
	if c.SchedulerPolicy == zakiv1.SchedulerPolicy_SCHEDULER_POLICY_UNSPECIFIED {
		c.SchedulerPolicy = zakiv1.SchedulerPolicy_SCHEDULER_POLICY_BINPACK
	}
	return c
}

func newFleet(cfg Config) *fleet {
	return &fleet{
		period:          cfg.HeartbeatPeriod,
		missed:          cfg.MissedHeartbeats,
		downAfter:       time.Duration(cfg.MissedHeartbeats) * cfg.HeartbeatPeriod,
		unknownGrace:    cfg.UnknownGrace,
		startedAt:       cfg.Now(),
		portCooldown:    cfg.PortCooldown,
		policy:          cfg.SchedulerPolicy,
		registers:       newRegisterLimiter(cfg.RegisterInterval, cfg.RegisterBurst),
		jitter:          rand.Float64,
		revokeNodeCerts: func(context.Context, string) error { return nil },
	}
}

// advertisedPeriod is the heartbeat period told to one agent: period
// shortened by up to a tenth (r in [0,1)), so that agents started together
// drift apart. Never longer than period, so the down timeout, counted in
// whole periods, still holds.
func advertisedPeriod(period time.Duration, r float64) time.Duration {
	return period - time.Duration(r*float64(period/10))
}
