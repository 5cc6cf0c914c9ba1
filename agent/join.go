package agent

import (
	"context"
	"fmt"

	"github.com/zaki-platform/zaki/internal/member"
	"github.com/zaki-platform/zaki/internal/pki"
)

// credentials returns the node's credentials from StateDir, joining the
// cluster with JoinToken first when there are none, and starts renewing
// them. It returns nil without a StateDir (plaintext; tests only).
func (a *Agent) credentials(ctx context.Context) (*member.Credentials, error) {
	if a.cfg.StateDir == "" {
		return nil, nil
	}
	creds, err := member.Ensure(ctx, member.Options{Dir: a.cfg.StateDir, Role: pki.RoleAgent,
		NodeID: a.cfg.NodeID, JoinAddr: a.cfg.ControlPlane, Token: a.cfg.JoinToken, Logger: a.cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.workers.Add(1)
	go func() {
		defer a.workers.Done()
		creds.RunRenewal(ctx, a.cfg.ControlPlane, a.cfg.Logger)
	}()
	return creds, nil
}
