// Package member is a cluster member's side of trust: joining with a token
// (the CA pinned by the token's hash, the key made here and never sent),
// keeping the key, certificate and CA in a state directory, presenting them
// on every connection to the control plane, and renewing the certificate
// before it expires. Agents and routers use it; zaki ctl uses Load.
//
// It may import gen/zaki/v1, internal/pki, internal/cpdial and gRPC; never controlplane/.
package member
