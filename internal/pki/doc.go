// Package pki is the cluster's cryptography, and nothing else: the cluster CA
// (ECDSA P-256, crypto/x509), the certificates it signs for agents, routers,
// operators and control planes, the identity each certificate carries, join
// tokens, the key-encryption of the CA's private key (AES-256-GCM), CA pinning
// for the first connection, and the files a cluster member keeps.
//
// It does no networking and keeps no state; the control plane and the members
// that join it build on it. It imports only the standard library.
//
// A certificate's identity is a URI SAN "zaki://<role>/<id>" (agent, router,
// admin or controlplane; the id is a node id for an agent), repeated as the
// subject's CommonName (id) and OrganizationalUnit (role) for people reading
// it with openssl. Control-plane server certificates also carry the DNS name
// ServerName, which every client verifies whatever address it dialled.
package pki
