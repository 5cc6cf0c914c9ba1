// Package controlplane is Zaki's control plane: the only writer of the cluster
// state in etcd, the scheduler that places tenants on nodes, and the gRPC API
// that agents (the session), routers (tenants, routes, parked updates) and
// operators (admin listings) speak.
//
// It owns everything under the etcd prefix /zaki/v1/ (see keys.go for the
// layout) and the embedded etcd server when no external cluster is given.
// Several replicas may run against one etcd (embedded members of one
// cluster, etcd_cluster.go): each serves every call, one leads (leader.go)
// and runs what only one may, its writes fenced (fence.go); agent liveness
// is shared through etcd (liveness.go), as is the replica list (replicas.go).
//
// It may import gen/zaki/v1, profile and internal/... (pki, secret, obs, every). It must
// not import agent/ or router/; they speak to it only through gen/.
//
// Layout: Controller (controller.go and the files named for what they own) is
// the local implementation that in-process callers and tests use directly;
// grpc_*.go are thin adapters that validate a request, call the controller and
// map its error to a gRPC code in one place (errors.go).
package controlplane
