package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	zakiv1 "github.com/zaki-platform/zaki/gen/zaki/v1"
	"github.com/zaki-platform/zaki/internal/member"
	"github.com/zaki-platform/zaki/internal/pki"
)

// devTokenTTL is how long a dev cluster's join tokens live: only for the
// joins it makes right away.
const devTokenTTL = 10 * time.Minute

// DefaultCredentialsDir is where zaki dev writes the operator's credentials
// and where zaki ctl looks for them last: ~/.zaki/dev/admin.
func DefaultCredentialsDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "zaki-dev-admin")
	}
	return filepath.Join(home, ".zaki", "dev", "admin")
}

// joinToken makes a join token for a part that will join through the real
// Join RPC, as a host of a real fleet does; "" when dir already holds
// credentials from an earlier run with the same --data-dir.
func (c *Cluster) joinToken(ctx context.Context, role zakiv1.Role, dir string) (string, error) {
	_, err := member.Load(dir)
	if err == nil {
		return "", nil
	}
	if !errors.Is(err, pki.ErrNoBundle) {
		return "", fmt.Errorf("credentials in %s: %w (remove the directory to join again)", dir, err)
	}
	token, _, err := c.ControlPlane.CreateJoinToken(ctx, role, devTokenTTL, "zaki dev")
	return token, err
}
