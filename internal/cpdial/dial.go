package cpdial

import (
	"errors"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/health" // registers client-side health checking
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Keepalive is what every control-plane client sends: a ping after Time
// without traffic, and the connection is given up (so pick_first moves on)
// when no answer comes within Timeout. The control plane's
// EnforcementPolicy (controlplane/grpc.go) must allow this rate.
var Keepalive = keepalive.ClientParameters{
	Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}

// scheme names the per-connection resolver; it is registered on the
// connection only (grpc.WithResolvers), never globally.
const scheme = "zaki-cp"

// serviceConfig spreads new calls and streams over the replicas that are
// connected and say SERVING on gRPC health; a stream stays on the replica
// it opened on. A replica that cannot reach etcd says NOT_SERVING and fails
// what it still gets Unavailable (controlplane/etcdgate.go), so the next
// attempt lands elsewhere even when its connection is fine, which
// pick_first, moving only when a connection fails, would not do. A server
// without the health service counts as serving.
const serviceConfig = `{"loadBalancingConfig":[{"round_robin":{}}],"healthCheckConfig":{"serviceName":""}}`

// ErrNoAddress is returned when the list names no address.
var ErrNoAddress = errors.New("cpdial: no control-plane address")

// Split parses a comma-separated list of addresses, dropping blanks and
// duplicates, keeping the order (the first is tried first).
func Split(list string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, a)
	}
	return out
}

// Join is the inverse of Split, for flags, logs and the join file.
func Join(addrs []string) string { return strings.Join(addrs, ",") }

// Dial returns one connection over all addrs (each "host:port", or
// comma-separated lists of them): it connects to every replica and spreads
// calls over those that answer, are healthy and keep answering keepalive
// pings. Like grpc.NewClient it does not connect yet. Every replica is
// verified under the same TLS server name (pki.ServerName).
func Dial(addrs []string, creds credentials.TransportCredentials, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	addrs = Split(Join(addrs))
	if len(addrs) == 0 {
		return nil, ErrNoAddress
	}
	state := resolver.State{}
	for _, a := range addrs {
		state.Endpoints = append(state.Endpoints, resolver.Endpoint{Addresses: []resolver.Address{{Addr: a}}})
	}
	r := manual.NewBuilderWithScheme(scheme)
	r.InitialState(state)
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithResolvers(r),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithKeepaliveParams(Keepalive),
	}
	// The first address is the authority, as when one address was dialled.
	return grpc.NewClient(scheme+":///"+addrs[0], append(base, opts...)...)
}
