package agent

import (
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/zaki-platform/zaki/internal/member"
)

// transport is mutual TLS with the node's credentials: the control plane is
// verified against the cluster CA, and each new connection presents the
// current (possibly renewed) certificate. Without credentials, plaintext,
// for tests against a fake control plane.
func (a *Agent) transport(creds *member.Credentials) credentials.TransportCredentials {
	if creds == nil {
		return insecure.NewCredentials()
	}
	return creds.TransportCredentials()
}
