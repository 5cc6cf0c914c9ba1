// Package cpdial owns how every client (agent, router, zaki ctl, join and
// renewal) connects to the control plane: one gRPC connection over one or
// more control-plane replicas that fails over between them by itself.
//
// A call in flight when its replica dies fails Unavailable and is not
// retried here (not every call is idempotent); callers already retry
// (agent sessions, router lookups) or report (zaki ctl). The next call or
// stream lands on a live replica.
//
// TODO(#3): the server side is not built yet: several control-plane
// replicas with leader election. Once it is, a replica that cannot serve a
// call (not the leader) must fail it Unavailable so that callers retry, and
// pick_first must move off it; decide then whether to retry idempotent
// methods through a service-config retry policy.
//
// It imports only gRPC; callers bring their own transport credentials.
package cpdial
