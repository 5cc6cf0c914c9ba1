// Package agent is the process on each host that drives the local Docker
// Engine: it holds one session with the control plane, receives the complete
// set of containers the node must run, and makes the engine match it, one
// tenant at a time and one idempotent step at a time.
//
// It owns the tenant containers, their networks and their volumes on this
// host, and nothing else. It may import gen/zaki/v1 (its only link to the
// control plane), profile, internal/... and the Docker client; it never
// imports controlplane/.
//
// Invariants, in order of importance:
//   - At most one container per tenant, ever.
//   - A tenant's volume is never deleted by the agent: reconciliation removes
//     containers and networks, never data. The one exception is a move's
//     target, which wipes its own (older) copy of the volume just before
//     loading the source's complete, checksummed one.
//   - A move's source only stops the tenant's container, never starts it,
//     and serves the volume only to the node the move names, only while it
//     holds that generation stopped.
//   - Losing the session, or stopping the agent, never touches a running
//     container.
package agent
