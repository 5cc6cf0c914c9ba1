// Package cpdial owns how every client (agent, router, zaki ctl, join and
// renewal) connects to the control plane: one gRPC connection over one or
// more control-plane replicas that fails over between them by itself.
//
// A call in flight when its replica dies fails Unavailable and is not
// retried here (not every call is idempotent); callers already retry
// (agent sessions, router lookups) or report (zaki ctl). The next call or
// stream lands on a live replica.
//
// Calls are spread over the healthy replicas (round_robin with gRPC health
// checks): every replica serves every call, and one that cannot reach etcd
// reports NOT_SERVING, so clients move off it by themselves.
//
// It imports only gRPC; callers bring their own transport credentials.
package cpdial
