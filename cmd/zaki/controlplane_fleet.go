package main

import (
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
)

// fleetFlags are the control plane's node-lifecycle and scheduling flags.
type fleetFlags struct {
	MissedHeartbeats int           `name:"missed-heartbeats" env:"ZAKI_MISSED_HEARTBEATS" default:"3" help:"Heartbeat periods a node may miss before it is down (default: ${default})."`
	UnknownGrace     time.Duration `name:"unknown-grace" env:"ZAKI_UNKNOWN_GRACE" help:"After a control-plane start or a leader change, how long a node not heard from yet stays unknown before it may be down (default: 5x the down timeout)."`
	PortCooldown     time.Duration `name:"port-cooldown" env:"ZAKI_PORT_COOLDOWN" default:"2m" help:"How long a released host port stays unused (default: ${default})."`
	SchedulerPolicy  string        `name:"scheduler-policy" env:"ZAKI_SCHEDULER_POLICY" default:"binpack" enum:"binpack,spread" help:"binpack fills the fullest node that fits; spread uses the emptiest (default: ${default})."`
}

// policy maps --scheduler-policy to its enum.
func (f fleetFlags) policy() zakiv1.SchedulerPolicy {
	if f.SchedulerPolicy == "spread" {
		return zakiv1.SchedulerPolicy_SCHEDULER_POLICY_SPREAD
	}
	return zakiv1.SchedulerPolicy_SCHEDULER_POLICY_BINPACK
}
